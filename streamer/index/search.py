"""Read-only queries of the index for questions: events with their VLM findings in a range, keyword search
(index/fulltext.py), track presence as intervals, and how much was recorded."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, and_, case, func, select, union

from streamer.index import fulltext
from streamer.index.rows import FindingRow, TrackSecond
from streamer.index.schema import events, segments, vlm_findings
from streamer.index.schema import track_seconds as tracks
from streamer.index.store import finding_from, track_seconds_of


@dataclass(frozen=True)
class StoredEvent:
    event_id: str
    camera: str
    type: str
    rule: str
    label: str
    track_id: int | None
    start_ts: float
    end_ts: float | None
    confidence: float
    bbox: tuple[float, float, float, float]
    verification: str
    risk_level: str | None
    description: str | None
    snapshot: str | None
    clip: str | None
    zone: str | None
    vlm: FindingRow | None  # the latest answered finding, if any


@dataclass(frozen=True)
class Presence:
    camera: str
    track_id: int
    label: str
    start_s: int  # whole seconds (the summary's resolution)
    end_s: int  # last second seen, inclusive
    confidence: float
    box: tuple[float, float, float, float]  # the first box


@dataclass(frozen=True)
class Coverage:
    segments: int
    footage_s: float  # recorded seconds inside the range
    events: int
    first_ts: float | None  # the recordings' extent, whatever the range
    last_ts: float | None


def events_between(conn: Connection, cameras: Sequence[str], since: float, until: float) -> list[StoredEvent]:
    rows = (
        conn.execute(select(events).where(*_overlapping(cameras, since, until)).order_by(events.c.start_ts))
        .mappings()
        .all()
    )
    findings = _latest_findings(conn, [row["event_id"] for row in rows])
    return [_event(row, findings.get(row["event_id"])) for row in rows]


def _overlapping(cameras: Sequence[str], since: float, until: float):
    return (
        events.c.camera.in_(list(cameras)),
        events.c.start_ts < until,
        func.coalesce(events.c.end_ts, events.c.start_ts) >= since,
    )


def _event(row, finding: FindingRow | None) -> StoredEvent:
    source = json.loads(row["source_json"])
    return StoredEvent(
        row["event_id"],
        row["camera"],
        row["type"],
        row["rule"],
        row["label"],
        row["track_id"],
        row["start_ts"],
        row["end_ts"],
        row["confidence"],
        tuple(json.loads(row["bbox_json"])),
        row["verification"],
        row["risk_level"],
        row["description"],
        row["snapshot"],
        row["clip"],
        source.get("zone"),
        finding,
    )


_FINDINGS = select(*(vlm_findings.c[name] for name in FindingRow.columns()))


def _latest_findings(conn: Connection, event_ids: list[str]) -> dict[str, FindingRow]:
    latest: dict[str, FindingRow] = {}
    for start in range(0, len(event_ids), 500):
        chunk = event_ids[start : start + 500]
        for row in conn.execute(
            _FINDINGS.where(vlm_findings.c.event_id.in_(chunk), vlm_findings.c.status == "answered").order_by(
                vlm_findings.c.answered_ts
            )
        ):
            latest[row.event_id] = finding_from(row)
    return latest


def watch_findings(conn: Connection, cameras: Sequence[str], since: float, until: float) -> list[FindingRow]:
    """Confirmed sightings of `watch` prompts (they have no event of their own)."""
    return [
        finding_from(row)
        for row in conn.execute(
            _FINDINGS.where(
                vlm_findings.c.kind == "watch",
                vlm_findings.c.verdict == "confirmed",
                vlm_findings.c.camera.in_(list(cameras)),
                vlm_findings.c.window_start_ts < until,
                vlm_findings.c.window_end_ts >= since,
            ).order_by(vlm_findings.c.window_start_ts)
        )
    ]


def search_terms(words: Sequence[str]) -> tuple[str, ...]:
    """The words of a question keyword search looks for (plain words only: none read as an operator)."""
    return fulltext.terms(words)


def keyword_scores(conn: Connection, terms: Sequence[str], event_ids: Sequence[str]) -> dict[str, float]:
    """Relevance (larger is better) of each event's text and its findings' text; events not matched are absent."""
    wanted = set(event_ids)
    return {event_id: score for event_id, score in fulltext.keyword_scores(conn, terms).items() if event_id in wanted}


def presence(
    conn: Connection, cameras: Sequence[str], labels: Sequence[str], since: float, until: float
) -> list[Presence]:
    """Runs of consecutive seconds of each track of these classes (gaps-and-islands in SQL)."""
    numbered = (
        select(
            tracks,
            (
                tracks.c.second
                - func.row_number().over(partition_by=(tracks.c.camera, tracks.c.track_id), order_by=tracks.c.second)
            ).label("island"),
        )
        .where(
            tracks.c.camera.in_(list(cameras)),
            tracks.c.label.in_(list(labels)),
            tracks.c.second >= int(since),
            tracks.c.second <= int(until),
        )
        .subquery()
    )
    t = numbered.c
    rows = conn.execute(
        select(
            t.camera,
            t.track_id,
            func.min(t.label),
            func.min(t.second),
            func.max(t.second),
            func.avg(t.confidence),
            func.min(t.x1),
            func.min(t.y1),
            func.max(t.x2),
            func.max(t.y2),
        )
        .group_by(t.camera, t.track_id, t.island)
        .order_by(func.min(t.second))
    )
    return [Presence(r[0], r[1], r[2], r[3], r[4], round(r[5], 3), (r[6], r[7], r[8], r[9])) for r in rows]


def track_boxes(
    conn: Connection, cameras: Sequence[str], labels: Sequence[str] | None, since: float, until: float
) -> list[TrackSecond]:
    return track_seconds_of(conn, cameras, labels, since, until)


def labels_seen(conn: Connection, tracks_too: bool) -> list[str]:
    """Labels of events; with `tracks_too`, of the track summary too (a scan of the whole table: only worth it when a
    camera keeps every class, since otherwise its labels are the configured classes)."""
    query = select(events.c.label).distinct()
    if tracks_too:
        query = union(query, select(tracks.c.label).distinct())
    return [row[0] for row in conn.execute(query)]


def coverage(conn: Connection, cameras: Sequence[str], since: float, until: float) -> Coverage:
    inside = and_(segments.c.camera.in_(list(cameras)), segments.c.end_ts > since, segments.c.start_ts < until)
    clipped_end = case((segments.c.end_ts < until, segments.c.end_ts), else_=until)
    clipped_start = case((segments.c.start_ts > since, segments.c.start_ts), else_=since)
    count, footage = conn.execute(
        select(func.count(), func.coalesce(func.sum(clipped_end - clipped_start), 0)).where(inside)
    ).one()
    found = conn.execute(
        select(func.count()).select_from(events).where(*_overlapping(cameras, since, until))
    ).scalar_one()
    first, last = conn.execute(
        select(func.min(segments.c.start_ts), func.max(segments.c.end_ts)).where(segments.c.camera.in_(list(cameras)))
    ).one()
    return Coverage(count, float(footage), found, first, last)


def earliest(conn: Connection, cameras: Sequence[str]) -> float | None:
    found = [
        conn.execute(select(func.min(segments.c.start_ts)).where(segments.c.camera.in_(list(cameras)))).scalar(),
        conn.execute(select(func.min(events.c.start_ts)).where(events.c.camera.in_(list(cameras)))).scalar(),
    ]
    return min((value for value in found if value is not None), default=None)


def latest(conn: Connection, cameras: Sequence[str]) -> float | None:
    found = [
        conn.execute(select(func.max(segments.c.end_ts)).where(segments.c.camera.in_(list(cameras)))).scalar(),
        conn.execute(
            select(func.max(func.coalesce(events.c.end_ts, events.c.start_ts))).where(
                events.c.camera.in_(list(cameras))
            )
        ).scalar(),
    ]
    return max((value for value in found if value is not None), default=None)


def fingerprint(conn: Connection, cameras: Sequence[str]) -> str:
    """Changes whenever anything a question reads changes: part of the result cache's key. The track summary is
    written in time order, so its newest second per camera (a primary-key lookup, where a count would read the
    whole table on every question) tells when it grew."""
    parts = [
        list(conn.execute(query).one())
        for query in (
            select(func.count(), func.max(events.c.updated_ts)),
            select(func.count(), func.max(vlm_findings.c.answered_ts)),
            select(func.count(), func.max(segments.c.end_ts)),
        )
    ]
    parts += [
        conn.execute(select(func.max(tracks.c.second)).where(tracks.c.camera == camera)).scalar() for camera in cameras
    ]
    return json.dumps(parts)
