"""Read-only queries of the index for questions: events with their VLM findings in a range, keyword search
(FTS5), track presence as intervals, and how much was recorded."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from streamer.index.rows import FindingRow, TrackSecond
from streamer.index.store import finding_from


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


def _in(values: Sequence[str]) -> str:
    return ",".join("?" * len(values))


def events_between(conn: sqlite3.Connection, cameras: Sequence[str], since: float, until: float) -> list[StoredEvent]:
    rows = conn.execute(
        f"SELECT * FROM events WHERE camera IN ({_in(cameras)}) AND start_ts < ? AND COALESCE(end_ts, start_ts) >= ? "
        "ORDER BY start_ts", (*cameras, until, since)).fetchall()
    findings = _latest_findings(conn, [row["event_id"] for row in rows])
    return [_event(row, findings.get(row["event_id"])) for row in rows]


def _event(row: sqlite3.Row, finding: FindingRow | None) -> StoredEvent:
    source = json.loads(row["source_json"])
    return StoredEvent(row["event_id"], row["camera"], row["type"], row["rule"], row["label"], row["track_id"],
                       row["start_ts"], row["end_ts"], row["confidence"], tuple(json.loads(row["bbox_json"])),
                       row["verification"], row["risk_level"], row["description"], row["snapshot"], row["clip"],
                       source.get("zone"), finding)


def _latest_findings(conn: sqlite3.Connection, event_ids: list[str]) -> dict[str, FindingRow]:
    latest: dict[str, FindingRow] = {}
    for start in range(0, len(event_ids), 500):
        chunk = event_ids[start:start + 500]
        for row in conn.execute(f"SELECT * FROM vlm_findings WHERE event_id IN ({_in(chunk)}) AND status = 'answered' "
                                "ORDER BY answered_ts", chunk):
            latest[row["event_id"]] = finding_from(row)
    return latest


def watch_findings(conn: sqlite3.Connection, cameras: Sequence[str], since: float, until: float) -> list[FindingRow]:
    """Confirmed sightings of `watch` prompts (they have no event of their own)."""
    return [finding_from(row) for row in conn.execute(
        f"SELECT * FROM vlm_findings WHERE kind = 'watch' AND verdict = 'confirmed' AND camera IN ({_in(cameras)}) "
        "AND window_start_ts < ? AND window_end_ts >= ? ORDER BY window_start_ts", (*cameras, until, since))]


def fts_query(words: Sequence[str]) -> str | None:
    """An FTS5 OR-query of plain words (quoted, so no word is read as an operator)."""
    terms = sorted({w for w in (re.sub(r"[^a-z0-9]", "", word.lower()) for word in words) if len(w) > 1})
    return " OR ".join(f'"{term}"' for term in terms) or None


def keyword_scores(conn: sqlite3.Connection, query: str, event_ids: Sequence[str]) -> dict[str, float]:
    """bm25 relevance (larger is better) of each event's text and its findings' text; events not matched are absent."""
    scores: dict[str, float] = {}
    for table, join in (("events_text", "SELECT event_id, rowid FROM events"),
                        ("findings_text", "SELECT event_id, rowid FROM vlm_findings WHERE event_id IS NOT NULL")):
        rows = conn.execute(
            f"SELECT owner.event_id, -bm25({table}) FROM {table} JOIN ({join}) AS owner ON owner.rowid = {table}.rowid "
            f"WHERE {table} MATCH ?", (query,))
        for event_id, score in rows:
            scores[event_id] = max(scores.get(event_id, 0.0), float(score))
    wanted = set(event_ids)
    return {event_id: score for event_id, score in scores.items() if event_id in wanted}


def presence(conn: sqlite3.Connection, cameras: Sequence[str], labels: Sequence[str], since: float,
             until: float) -> list[Presence]:
    """Runs of consecutive seconds of each track of these classes (gaps-and-islands in SQL)."""
    rows = conn.execute(
        f"""SELECT camera, track_id, label, MIN(second), MAX(second), AVG(confidence),
                   MIN(x1), MIN(y1), MAX(x2), MAX(y2)
            FROM (SELECT *, second - ROW_NUMBER() OVER (PARTITION BY camera, track_id ORDER BY second) AS island
                  FROM track_seconds WHERE camera IN ({_in(cameras)}) AND label IN ({_in(labels)})
                  AND second >= ? AND second <= ?)
            GROUP BY camera, track_id, island ORDER BY MIN(second)""",
        (*cameras, *labels, int(since), int(until)))
    return [Presence(r[0], r[1], r[2], r[3], r[4], round(r[5], 3), (r[6], r[7], r[8], r[9])) for r in rows]


def track_boxes(conn: sqlite3.Connection, cameras: Sequence[str], labels: Sequence[str] | None, since: float,
                until: float) -> list[TrackSecond]:
    label_filter = f"AND label IN ({_in(labels)})" if labels else ""
    rows = conn.execute(
        f"SELECT camera, second, track_id, label, x1, y1, x2, y2, confidence FROM track_seconds "
        f"WHERE camera IN ({_in(cameras)}) {label_filter} AND second >= ? AND second <= ? ORDER BY camera, second",
        (*cameras, *(labels or ()), int(since), int(until)))
    return [TrackSecond(r[0], r[1], r[2], r[3], (r[4], r[5], r[6], r[7]), r[8]) for r in rows]


def labels_seen(conn: sqlite3.Connection, tracks: bool) -> list[str]:
    """Labels of events; with `tracks`, of the track summary too (a scan of the whole table: only worth it when a
    camera keeps every class, since otherwise its labels are the configured classes)."""
    sql = "SELECT DISTINCT label FROM events" + (" UNION SELECT DISTINCT label FROM track_seconds" if tracks else "")
    return [row[0] for row in conn.execute(sql)]


def coverage(conn: sqlite3.Connection, cameras: Sequence[str], since: float, until: float) -> Coverage:
    row = conn.execute(
        f"SELECT COUNT(*), COALESCE(SUM(MIN(end_ts, ?) - MAX(start_ts, ?)), 0) FROM segments "
        f"WHERE camera IN ({_in(cameras)}) AND end_ts > ? AND start_ts < ?", (until, since, *cameras, since, until)).fetchone()
    events = conn.execute(f"SELECT COUNT(*) FROM events WHERE camera IN ({_in(cameras)}) AND start_ts < ? "
                          "AND COALESCE(end_ts, start_ts) >= ?", (*cameras, until, since)).fetchone()[0]
    extent = conn.execute(f"SELECT MIN(start_ts), MAX(end_ts) FROM segments WHERE camera IN ({_in(cameras)})", cameras).fetchone()
    return Coverage(row[0], float(row[1]), events, extent[0], extent[1])


def earliest(conn: sqlite3.Connection, cameras: Sequence[str]) -> float | None:
    row = conn.execute(f"SELECT MIN(t) FROM (SELECT MIN(start_ts) AS t FROM segments WHERE camera IN ({_in(cameras)}) "
                       f"UNION ALL SELECT MIN(start_ts) FROM events WHERE camera IN ({_in(cameras)}))", (*cameras, *cameras)).fetchone()
    return row[0]


def latest(conn: sqlite3.Connection, cameras: Sequence[str]) -> float | None:
    row = conn.execute(f"SELECT MAX(t) FROM (SELECT MAX(end_ts) AS t FROM segments WHERE camera IN ({_in(cameras)}) "
                       f"UNION ALL SELECT MAX(COALESCE(end_ts, start_ts)) FROM events WHERE camera IN ({_in(cameras)}))",
                       (*cameras, *cameras)).fetchone()
    return row[0]


def fingerprint(conn: sqlite3.Connection, cameras: Sequence[str]) -> str:
    """Changes whenever anything a question reads changes: part of the result cache's key. The track summary is
    written in time order, so its newest second per camera (a primary-key lookup, where a count would read the
    whole table on every question) tells when it grew."""
    parts = [list(conn.execute(sql).fetchone()) for sql in (
        "SELECT COUNT(*), MAX(updated_ts) FROM events",
        "SELECT COUNT(*), MAX(answered_ts) FROM vlm_findings",
        "SELECT COUNT(*), MAX(end_ts) FROM segments")]
    parts += [conn.execute("SELECT MAX(second) FROM track_seconds WHERE camera = ?", (camera,)).fetchone()[0]
              for camera in cameras]
    return json.dumps(parts)
