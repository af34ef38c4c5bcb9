"""Reads and writes of the index. Every function takes a connection; callers own its thread."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable

from streamer.index.rows import EventRecord, FindingRow, GapRow, ReviewRow, SegmentRow, TrackSecond

_SEGMENT_COLUMNS = "camera, start_ts, end_ts, path, codec, fps, frames, bytes, media_start_s, transcoded"


def insert_segment(conn: sqlite3.Connection, row: SegmentRow) -> None:
    conn.execute(
        f"INSERT OR REPLACE INTO segments ({_SEGMENT_COLUMNS}, created_ts) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (row.camera, row.start_ts, row.end_ts, row.path, row.codec, row.fps, row.frames, row.bytes,
         row.media_start_s, int(row.transcoded), time.time()),
    )


def insert_gap(conn: sqlite3.Connection, gap: GapRow) -> None:
    conn.execute("INSERT INTO gaps (camera, start_ts, end_ts, reason) VALUES (?,?,?,?)",
                 (gap.camera, gap.start_ts, gap.end_ts, gap.reason))


def _segment(row: sqlite3.Row) -> SegmentRow:
    return SegmentRow(row["camera"], row["start_ts"], row["end_ts"], row["path"], row["codec"], row["fps"],
                      row["frames"], row["bytes"], row["media_start_s"], bool(row["transcoded"]))


def segments_overlapping(conn: sqlite3.Connection, camera: str, start_ts: float, end_ts: float) -> list[SegmentRow]:
    rows = conn.execute(
        f"SELECT {_SEGMENT_COLUMNS} FROM segments WHERE camera = ? AND end_ts > ? AND start_ts < ? ORDER BY start_ts",
        (camera, start_ts, end_ts),
    )
    return [_segment(row) for row in rows]


def segments_of(conn: sqlite3.Connection, camera: str | None = None) -> list[SegmentRow]:
    where, args = ("WHERE camera = ?", (camera,)) if camera else ("", ())
    return [_segment(row) for row in conn.execute(f"SELECT {_SEGMENT_COLUMNS} FROM segments {where} ORDER BY start_ts", args)]


def delete_segment(conn: sqlite3.Connection, path: str) -> None:
    conn.execute("DELETE FROM segments WHERE path = ?", (path,))


def gaps_of(conn: sqlite3.Connection, camera: str) -> list[GapRow]:
    rows = conn.execute("SELECT camera, start_ts, end_ts, reason FROM gaps WHERE camera = ? ORDER BY start_ts", (camera,))
    return [GapRow(*row) for row in rows]


def record_event(conn: sqlite3.Connection, record: EventRecord) -> None:
    """Upsert the event from its payload (a later message never overwrites a newer one) and append its history."""
    payload = json.loads(record.payload_json)
    conn.execute(
        "INSERT OR IGNORE INTO event_states (event_id, seq, state, observed_ts, payload_json) VALUES (?,?,?,?,?)",
        (record.event_id, record.seq, record.state, record.observed_ts, record.payload_json),
    )
    values = (
        record.event_id, payload["camera"], payload["type"], payload["source"]["rule"], payload["state"], payload["label"],
        payload["track_id"], payload["start_ts"], payload["end_ts"], payload["confidence"], json.dumps(payload["bbox_xyxy"]),
        payload["frame_wh"][0], payload["frame_wh"][1], payload["verification"], payload["risk_level"],
        payload["description"], payload["snapshot"], payload["clip"], json.dumps(payload["source"]), record.payload_json,
        record.observed_ts,
    )
    conn.execute(
        """INSERT INTO events (event_id, camera, type, rule, state, label, track_id, start_ts, end_ts, confidence,
               bbox_json, frame_w, frame_h, verification, risk_level, description, snapshot, clip, source_json,
               payload_json, updated_ts)
           VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
           ON CONFLICT (event_id) DO UPDATE SET
               state = excluded.state, end_ts = excluded.end_ts, confidence = excluded.confidence,
               bbox_json = excluded.bbox_json,
               -- a camera message written after the VLM answered must not turn its verdict back into 'pending'
               verification = CASE WHEN events.verification IN ('confirmed', 'rejected')
                                    AND excluded.verification IN ('pending', 'unverified')
                                   THEN events.verification ELSE excluded.verification END,
               risk_level = COALESCE(excluded.risk_level, events.risk_level),
               description = COALESCE(excluded.description, events.description), snapshot = excluded.snapshot,
               clip = COALESCE(excluded.clip, events.clip), source_json = excluded.source_json,
               payload_json = excluded.payload_json, updated_ts = excluded.updated_ts
           WHERE excluded.updated_ts >= events.updated_ts""",
        values,
    )


def set_event_clip(conn: sqlite3.Connection, event_id: str, clip: str) -> None:
    conn.execute("UPDATE events SET clip = ? WHERE event_id = ?", (clip, event_id))


def event_states(conn: sqlite3.Connection, event_id: str) -> list[str]:
    return [row[0] for row in conn.execute("SELECT state FROM event_states WHERE event_id = ? ORDER BY seq", (event_id,))]


def event_windows(conn: sqlite3.Connection, camera: str | None = None) -> list[tuple[str, float, float | None]]:
    """(camera, start, end) of every event; retention keeps the segments around them."""
    sql, args = "SELECT camera, start_ts, end_ts FROM events", ()
    if camera:
        sql, args = sql + " WHERE camera = ?", (camera,)
    return [(row[0], row[1], row[2]) for row in conn.execute(sql, args)]


def insert_track_seconds(conn: sqlite3.Connection, rows: Iterable[TrackSecond]) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO track_seconds (camera, second, track_id, label, x1, y1, x2, y2, confidence) "
        "VALUES (?,?,?,?,?,?,?,?,?)",
        [(r.camera, r.second, r.track_id, r.label, *r.box, r.confidence) for r in rows],
    )


def track_seconds(conn: sqlite3.Connection, camera: str, start_ts: float, end_ts: float) -> list[TrackSecond]:
    rows = conn.execute(
        "SELECT camera, second, track_id, label, x1, y1, x2, y2, confidence FROM track_seconds "
        "WHERE camera = ? AND second >= ? AND second <= ? ORDER BY second, track_id",
        (camera, int(start_ts) - 1, int(end_ts) + 1),
    )
    return [TrackSecond(r[0], r[1], r[2], r[3], (r[4], r[5], r[6], r[7]), r[8]) for r in rows]


_FINDING_COLUMNS = ", ".join(FindingRow.columns())  # fixed names from the dataclass, never from data


def record_finding(conn: sqlite3.Connection, row: FindingRow) -> None:
    """One VLM answer (or failure); a verify job's verdict also goes onto its event's row."""
    values = tuple(getattr(row, name) for name in FindingRow.columns())
    conn.execute(f"INSERT OR REPLACE INTO vlm_findings ({_FINDING_COLUMNS}) VALUES ({', '.join('?' * len(values))})",
                 values)
    if row.event_id and row.verdict:
        conn.execute("UPDATE events SET verification = ?, risk_level = ?, description = ? WHERE event_id = ?",
                     (row.verdict, row.risk_level, row.description, row.event_id))


def finding_from(row: sqlite3.Row) -> FindingRow:
    return FindingRow(*(row[name] for name in FindingRow.columns()))


def findings_of(conn: sqlite3.Connection, event_id: str) -> list[FindingRow]:
    rows = conn.execute(f"SELECT {_FINDING_COLUMNS} FROM vlm_findings WHERE event_id = ? ORDER BY answered_ts",
                        (event_id,))
    return [finding_from(row) for row in rows]


def record_review(conn: sqlite3.Connection, review: ReviewRow) -> None:
    conn.execute("INSERT OR REPLACE INTO reviews (event_id, verdict, note, reviewer, reviewed_ts) VALUES (?,?,?,?,?)",
                 (review.event_id, review.verdict, review.note, review.reviewer, review.reviewed_ts))


def reviews_of(conn: sqlite3.Connection, event_id: str) -> list[ReviewRow]:
    rows = conn.execute("SELECT event_id, verdict, note, reviewer, reviewed_ts FROM reviews WHERE event_id = ? "
                        "ORDER BY reviewed_ts", (event_id,))
    return [ReviewRow(*row) for row in rows]


def latest_review(conn: sqlite3.Connection, event_id: str) -> ReviewRow | None:
    """The event's latest person's verdict, whatever message came after it."""
    row = conn.execute("SELECT event_id, verdict, note, reviewer, reviewed_ts FROM reviews WHERE event_id = ? "
                       "ORDER BY reviewed_ts DESC LIMIT 1", (event_id,)).fetchone()
    return ReviewRow(*row) if row else None


def reviewed_between(conn: sqlite3.Connection, since: float, until: float) -> list[ReviewRow]:
    """The latest review of each event reviewed in the range."""
    rows = conn.execute("SELECT event_id, verdict, note, reviewer, MAX(reviewed_ts) FROM reviews "
                        "WHERE reviewed_ts >= ? AND reviewed_ts < ? GROUP BY event_id ORDER BY 5", (since, until))
    return [ReviewRow(*row) for row in rows]


def latest_payload(conn: sqlite3.Connection, event_id: str) -> dict | None:
    row = conn.execute("SELECT payload_json FROM events WHERE event_id = ?", (event_id,)).fetchone()
    return json.loads(row[0]) if row else None


def next_seq(conn: sqlite3.Connection, event_id: str) -> int:
    row = conn.execute("SELECT COALESCE(MAX(seq), -1) + 1 FROM event_states WHERE event_id = ?", (event_id,)).fetchone()
    return int(row[0])


def latest_events(conn: sqlite3.Connection, cameras: Iterable[str] | None = None, types: Iterable[str] | None = None,
                  verifications: Iterable[str] | None = None, risks: Iterable[str] | None = None,
                  limit: int = 100) -> list[dict]:
    """Each event's latest payload, newest first, keeping to every filter given (None: any). The filters are in the
    query, each on an index of its column and time: a filter that matches nothing reads nothing."""
    where, args = [], []
    for column, values in (("camera", cameras), ("type", types), ("verification", verifications), ("risk_level", risks)):
        if values is not None:
            values = list(values)
            where.append(f"{column} IN ({','.join('?' * len(values))})" if values else "0")
            args += values
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = conn.execute(f"SELECT payload_json FROM events {clause} ORDER BY start_ts DESC LIMIT ?", (*args, limit))
    return [json.loads(row[0]) for row in rows]
