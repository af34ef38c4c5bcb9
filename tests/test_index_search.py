"""Keyword search (FTS5 on SQLite; tests/test_index_postgres.py has tsvector) in the index: rows written before
the upgrade are searchable after it, and the triggers keep the text in step with every later write (new events,
verdicts, VLM findings)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from sqlalchemy import Connection

from streamer.alerts.messages import index_record
from streamer.core import migrations
from streamer.index import db, legacy, migrate, search, store
from streamer.index.rows import FindingRow
from testkit.alerts import alert

START = 1795251600.0


def payload(event_type: str, zone: str | None = None, description: str | None = None) -> dict:
    return {
        "camera": "cam",
        "type": event_type,
        "source": {"rule": event_type, "model": "m", "zone": zone},
        "state": "new",
        "label": "person",
        "track_id": 1,
        "start_ts": START,
        "end_ts": None,
        "confidence": 0.9,
        "bbox_xyxy": [0, 0, 1, 1],
        "frame_wh": [160, 120],
        "verification": "pending",
        "risk_level": None,
        "description": description,
        "snapshot": "s.jpg",
        "clip": None,
    }


def fall_record(seq: int = 0, state: str = "new", observed: float = START, description: str | None = None):
    message = alert("fall-1", state, START, camera="cam", kind="fall", verification="pending", description=description)
    return index_record(message, seq, observed)


def found(conn: Connection, *words: str) -> set[str]:
    return set(search.keyword_scores(conn, search.search_terms(words), ["fall-1", "zone-1"]))


def test_an_index_from_before_the_upgrade_becomes_searchable(tmp_path: Path) -> None:
    old = sqlite3.connect(db.index_path(tmp_path), isolation_level=None)
    for script in legacy.MIGRATIONS[:2]:
        for statement in migrations.statements(script):
            old.execute(statement)
    old.execute("PRAGMA user_version = 2")
    row = payload("zone_intrusion", "loading_dock")  # written the way that version's store wrote it
    old.execute(
        "INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            "zone-1",
            "cam",
            row["type"],
            row["type"],
            "new",
            "person",
            1,
            START,
            None,
            0.9,
            "[0, 0, 1, 1]",
            160,
            120,
            "pending",
            None,
            None,
            "s.jpg",
            None,
            json.dumps(row["source"]),
            json.dumps(row),
            START,
        ),
    )
    old.close()
    conn = db.connect(tmp_path)
    # every later script applied in order, then handed to Alembic, whose later revisions ran too
    assert conn.exec_driver_sql("PRAGMA user_version").scalar() == len(legacy.MIGRATIONS)
    assert migrate.current(conn) == migrate.head()
    assert found(conn, "loading") == {"zone-1"} and found(conn, "intrusion") == {"zone-1"}
    assert found(conn, "fall") == set()


def test_triggers_keep_the_text_in_step_with_writes(tmp_path: Path) -> None:
    conn = db.connect(tmp_path)
    store.record_event(conn, fall_record())
    assert found(conn, "falling") == {"fall-1"}  # Porter stemming
    row = FindingRow(
        job_id="j1",
        event_id="fall-1",
        camera="cam",
        kind="verify",
        status="answered",
        verdict="confirmed",
        risk_level="high",
        label="worker slips off a ladder",
        description="A worker slips off the ladder and lands on the concrete.",
        start_ts=START,
        end_ts=START + 2,
        window_start_ts=START - 3,
        window_end_ts=START + 5,
        track_id=1,
        bbox_json=None,
        model="m",
        answer_text="{}",
        error=None,
        answered_ts=START + 9,
    )
    store.record_finding(conn, row)  # the finding's words, and the verdict's description on the event itself
    assert found(conn, "ladder") == {"fall-1"} and found(conn, "concrete") == {"fall-1"}
    store.record_event(conn, fall_record(1, "update", START + 10, description="Someone sat down on purpose."))
    assert found(conn, "purpose") == {"fall-1"}
    assert conn.exec_driver_sql("SELECT COUNT(*) FROM events_text").scalar() == 1  # replaced, not added
    conn.close()


def test_words_are_plain_so_none_is_an_operator(tmp_path: Path) -> None:
    assert search.search_terms(["when", "did", "NOT", "near(", "a", "fall?"]) == ("did", "fall", "near", "not", "when")
    conn = db.connect(tmp_path)
    store.record_event(conn, fall_record())
    assert found(conn, "NOT", "near(", "fall?") == {"fall-1"}  # FTS5 would have read NOT and NEAR( as operators
    conn.close()
