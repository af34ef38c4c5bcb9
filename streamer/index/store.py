"""Reads and writes of the index, the same on SQLite and PostgreSQL (SQLAlchemy Core). Every function takes a
connection; callers own its thread, and wrap writes in `db.transaction`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable

from sqlalchemy import Connection, and_, case, delete, false, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from streamer.index.rows import EventRecord, FindingRow, GapRow, ReviewRow, SegmentRow, TrackSecond
from streamer.index.schema import event_states as states
from streamer.index.schema import events, gaps, reviews, segments, vlm_findings
from streamer.index.schema import track_seconds as tracks

_SEGMENT_COLUMNS = (
    "camera",
    "start_ts",
    "end_ts",
    "path",
    "codec",
    "fps",
    "frames",
    "bytes",
    "media_start_s",
    "transcoded",
)


def upsert(conn: Connection, table):
    """An INSERT that can say ON CONFLICT, in the dialect of the database `conn` is on."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def _replace(conn: Connection, table, keys: Iterable[str], rows: list[dict]) -> None:
    """INSERT OR REPLACE, said the way both databases understand: on a conflict of `keys`, the new values win."""
    if not rows:
        return
    statement = upsert(conn, table)
    columns = [name for name in rows[0] if name not in keys]
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=list(keys), set_={name: statement.excluded[name] for name in columns}
        ),
        rows,
    )


def insert_segment(conn: Connection, row: SegmentRow) -> None:
    values = {name: getattr(row, name) for name in _SEGMENT_COLUMNS}
    _replace(conn, segments, ["path"], [{**values, "transcoded": int(row.transcoded), "created_ts": time.time()}])


def insert_gap(conn: Connection, gap: GapRow) -> None:
    conn.execute(gaps.insert().values(camera=gap.camera, start_ts=gap.start_ts, end_ts=gap.end_ts, reason=gap.reason))


def _segment(row) -> SegmentRow:
    return SegmentRow(*row[:-1], bool(row[-1]))


_SEGMENTS = select(*(segments.c[name] for name in _SEGMENT_COLUMNS))


def segments_overlapping(conn: Connection, camera: str, start_ts: float, end_ts: float) -> list[SegmentRow]:
    rows = conn.execute(
        _SEGMENTS.where(
            segments.c.camera == camera, segments.c.end_ts > start_ts, segments.c.start_ts < end_ts
        ).order_by(segments.c.start_ts)
    )
    return [_segment(row) for row in rows]


def segments_of(conn: Connection, camera: str | None = None) -> list[SegmentRow]:
    query = _SEGMENTS.where(segments.c.camera == camera) if camera else _SEGMENTS
    return [_segment(row) for row in conn.execute(query.order_by(segments.c.start_ts))]


def delete_segment(conn: Connection, path: str) -> None:
    conn.execute(delete(segments).where(segments.c.path == path))


def recorded_bytes(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.sum(segments.c.bytes), 0))).scalar_one())


def gaps_of(conn: Connection, camera: str) -> list[GapRow]:
    rows = conn.execute(
        select(gaps.c.camera, gaps.c.start_ts, gaps.c.end_ts, gaps.c.reason)
        .where(gaps.c.camera == camera)
        .order_by(gaps.c.start_ts)
    )
    return [GapRow(*row) for row in rows]


def record_event(conn: Connection, record: EventRecord) -> None:
    """Upsert the event from its message (a later message never overwrites a newer one) and append its history."""
    _append_history(conn, record)
    statement = upsert(conn, events).values(
        event_id=record.event_id,
        camera=record.camera,
        type=record.type,
        rule=record.rule,
        state=record.state,
        label=record.label,
        track_id=record.track_id,
        start_ts=record.start_ts,
        end_ts=record.end_ts,
        confidence=record.confidence,
        bbox_json=json.dumps(list(record.bbox_xyxy)),
        frame_w=record.frame_wh[0],
        frame_h=record.frame_wh[1],
        verification=record.verification,
        risk_level=record.risk_level,
        description=record.description,
        snapshot=record.snapshot,
        clip=record.clip,
        source_json=record.source_json,
        payload_json=record.payload_json,
        updated_ts=record.observed_ts,
    )
    new = statement.excluded
    # a camera message written after the VLM answered must not turn its verdict back into 'pending'
    verification = case(
        (
            and_(events.c.verification.in_(("confirmed", "rejected")), new.verification.in_(("pending", "unverified"))),
            events.c.verification,
        ),
        else_=new.verification,
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["event_id"],
            set_={
                "state": new.state,
                "end_ts": new.end_ts,
                "confidence": new.confidence,
                "bbox_json": new.bbox_json,
                "verification": verification,
                "risk_level": func.coalesce(new.risk_level, events.c.risk_level),
                "description": func.coalesce(new.description, events.c.description),
                "snapshot": new.snapshot,
                "clip": func.coalesce(new.clip, events.c.clip),
                "source_json": new.source_json,
                "payload_json": new.payload_json,
                "updated_ts": new.updated_ts,
            },
            where=new.updated_ts >= events.c.updated_ts,
        )
    )


def _append_history(conn: Connection, record: EventRecord) -> None:
    """Every message once: the same message delivered again (a spool's retry) is not a second entry."""
    row = dict(
        event_id=record.event_id,
        seq=record.seq,
        state=record.state,
        observed_ts=record.observed_ts,
        payload_json=record.payload_json,
    )
    conn.execute(upsert(conn, states).values(**row).on_conflict_do_nothing())


def set_event_clip(conn: Connection, event_id: str, clip: str | None) -> None:
    conn.execute(update(events).where(events.c.event_id == event_id).values(clip=clip))


def event_clips(conn: Connection) -> list[tuple[str, str, str, float | None]]:
    """(event id, camera, clip, end) of every event that has a clip; retention weighs and ages them."""
    return [
        tuple(row)
        for row in conn.execute(
            select(events.c.event_id, events.c.camera, events.c.clip, events.c.end_ts).where(events.c.clip.is_not(None))
        )
    ]


def event_states_of(conn: Connection, event_id: str) -> list[dict]:
    """Every message of the event in the order they were observed."""
    rows = conn.execute(
        select(states.c.payload_json).where(states.c.event_id == event_id).order_by(states.c.observed_ts, states.c.seq)
    )
    return [json.loads(row[0]) for row in rows]


def event_states(conn: Connection, event_id: str) -> list[str]:
    rows = conn.execute(select(states.c.state).where(states.c.event_id == event_id).order_by(states.c.seq))
    return [row[0] for row in rows]


def event_windows(conn: Connection, camera: str | None = None) -> list[tuple[str, float, float | None]]:
    """(camera, start, end) of every event; retention keeps the segments around them."""
    query = select(events.c.camera, events.c.start_ts, events.c.end_ts)
    if camera:
        query = query.where(events.c.camera == camera)
    return [(row[0], row[1], row[2]) for row in conn.execute(query)]


def insert_track_seconds(conn: Connection, rows: Iterable[TrackSecond]) -> None:
    _replace(
        conn,
        tracks,
        ["camera", "second", "track_id"],
        [
            {
                "camera": r.camera,
                "second": r.second,
                "track_id": r.track_id,
                "label": r.label,
                "x1": r.box[0],
                "y1": r.box[1],
                "x2": r.box[2],
                "y2": r.box[3],
                "confidence": r.confidence,
            }
            for r in rows
        ],
    )


_TRACK_COLUMNS = select(
    tracks.c.camera,
    tracks.c.second,
    tracks.c.track_id,
    tracks.c.label,
    tracks.c.x1,
    tracks.c.y1,
    tracks.c.x2,
    tracks.c.y2,
    tracks.c.confidence,
)


def track_row(row) -> TrackSecond:
    return TrackSecond(row[0], row[1], row[2], row[3], (row[4], row[5], row[6], row[7]), row[8])


def track_seconds_of(
    conn: Connection, cameras: Iterable[str], labels: Iterable[str] | None, since: float, until: float
) -> list[TrackSecond]:
    """The summary's rows of these cameras (and labels, None: any) from a second before to a second after."""
    query = _TRACK_COLUMNS.where(
        tracks.c.camera.in_(list(cameras)), tracks.c.second >= int(since), tracks.c.second <= int(until)
    )
    if labels:
        query = query.where(tracks.c.label.in_(list(labels)))
    return [track_row(row) for row in conn.execute(query.order_by(tracks.c.camera, tracks.c.second, tracks.c.track_id))]


def track_seconds(conn: Connection, camera: str, start_ts: float, end_ts: float) -> list[TrackSecond]:
    return track_seconds_of(conn, [camera], None, int(start_ts) - 1, int(end_ts) + 1)


_FINDINGS = select(*(vlm_findings.c[name] for name in FindingRow.columns()))


def record_finding(conn: Connection, row: FindingRow) -> None:
    """One VLM answer (or failure); a verify job's verdict also goes onto its event's row."""
    _replace(conn, vlm_findings, ["job_id"], [{name: getattr(row, name) for name in FindingRow.columns()}])
    if row.event_id and row.verdict:
        conn.execute(
            update(events)
            .where(events.c.event_id == row.event_id)
            .values(verification=row.verdict, risk_level=row.risk_level, description=row.description)
        )


def finding_from(row) -> FindingRow:
    return FindingRow(*row[: len(FindingRow.columns())])


def findings_of(conn: Connection, event_id: str) -> list[FindingRow]:
    rows = conn.execute(_FINDINGS.where(vlm_findings.c.event_id == event_id).order_by(vlm_findings.c.answered_ts))
    return [finding_from(row) for row in rows]


_REVIEWS = select(reviews.c.event_id, reviews.c.verdict, reviews.c.note, reviews.c.reviewer, reviews.c.reviewed_ts)


def record_review(conn: Connection, review: ReviewRow) -> None:
    _replace(conn, reviews, ["event_id", "reviewed_ts", "reviewer"], [review.__dict__])


def reviews_of(conn: Connection, event_id: str) -> list[ReviewRow]:
    rows = conn.execute(_REVIEWS.where(reviews.c.event_id == event_id).order_by(reviews.c.reviewed_ts))
    return [ReviewRow(*row) for row in rows]


def latest_review(conn: Connection, event_id: str) -> ReviewRow | None:
    """The event's latest person's verdict, whatever message came after it."""
    row = conn.execute(
        _REVIEWS.where(reviews.c.event_id == event_id).order_by(reviews.c.reviewed_ts.desc()).limit(1)
    ).first()
    return ReviewRow(*row) if row else None


def _latest_reviews(since: float | None = None, until: float | None = None):
    """Each event's latest review (of those reviewed in the range, if given) as a subquery."""
    ranked = select(
        *_REVIEWS.selected_columns,
        func.row_number().over(partition_by=reviews.c.event_id, order_by=reviews.c.reviewed_ts.desc()).label("rank"),
    )
    if since is not None:
        ranked = ranked.where(reviews.c.reviewed_ts >= since, reviews.c.reviewed_ts < until)
    ranked = ranked.subquery()
    return select(*(ranked.c[name] for name in ReviewRow.__dataclass_fields__)).where(ranked.c.rank == 1).subquery()


def reviewed_between(conn: Connection, since: float, until: float) -> list[ReviewRow]:
    """The latest review of each event reviewed in the range."""
    latest = _latest_reviews(since, until)
    return [ReviewRow(*row) for row in conn.execute(select(latest).order_by(latest.c.reviewed_ts))]


def reviewed_events(
    conn: Connection, since: float, until: float, cameras: Iterable[str]
) -> list[tuple[dict, ReviewRow]]:
    """Events that started in the range on these cameras and have a review, with their latest review."""
    latest = _latest_reviews()
    rows = conn.execute(
        select(events.c.payload_json, latest)
        .join(latest, latest.c.event_id == events.c.event_id)
        .where(events.c.start_ts >= since, events.c.start_ts < until, events.c.camera.in_(list(cameras)))
        .order_by(events.c.start_ts)
    )
    return [(json.loads(row[0]), ReviewRow(*row[1:])) for row in rows]


def latest_payload(conn: Connection, event_id: str) -> dict | None:
    row = conn.execute(select(events.c.payload_json).where(events.c.event_id == event_id)).first()
    return json.loads(row[0]) if row else None


def next_seq(conn: Connection, event_id: str) -> int:
    return int(
        conn.execute(
            select(func.coalesce(func.max(states.c.seq), -1) + 1).where(states.c.event_id == event_id)
        ).scalar_one()
    )


def latest_events(
    conn: Connection,
    cameras: Iterable[str] | None = None,
    types: Iterable[str] | None = None,
    verifications: Iterable[str] | None = None,
    risks: Iterable[str] | None = None,
    limit: int = 100,
) -> list[dict]:
    """Each event's latest payload, newest first, keeping to every filter given (None: any). The filters are in the
    query, each on an index of its column and time: a filter that matches nothing reads nothing."""
    query = select(events.c.payload_json)
    for column, values in (
        (events.c.camera, cameras),
        (events.c.type, types),
        (events.c.verification, verifications),
        (events.c.risk_level, risks),
    ):
        if values is not None:
            values = list(values)
            query = query.where(column.in_(values) if values else false())
    rows = conn.execute(query.order_by(events.c.start_ts.desc()).limit(limit))
    return [json.loads(row[0]) for row in rows]


def day_events(conn: Connection, camera: str, since: float, until: float) -> list[tuple]:
    """(event id, type, label, start, end, verification, latest review verdict) of the camera's events that
    overlap the range, in time order: the timeline's marks."""
    latest = _latest_reviews()
    rows = conn.execute(
        select(
            events.c.event_id,
            events.c.type,
            events.c.label,
            events.c.start_ts,
            events.c.end_ts,
            events.c.verification,
            latest.c.verdict,
        )
        .outerjoin(latest, latest.c.event_id == events.c.event_id)
        .where(
            events.c.camera == camera,
            events.c.start_ts < until,
            func.coalesce(events.c.end_ts, events.c.start_ts) >= since,
        )
        .order_by(events.c.start_ts)
    )
    return [tuple(row) for row in rows]
