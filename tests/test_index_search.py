"""Keyword search (FTS5) in the index: rows written before the upgrade are searchable after it, and the triggers
keep the text in step with every later write (new events, verdicts, VLM findings)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from streamer.core import migrations
from streamer.index import db, search, store
from streamer.index.rows import EventRecord, FindingRow

START = 1795251600.0


def payload(event_type: str, zone: str | None = None, description: str | None = None) -> dict:
    return {"camera": "cam", "type": event_type, "source": {"rule": event_type, "model": "m", "zone": zone},
            "state": "new", "label": "person", "track_id": 1, "start_ts": START, "end_ts": None, "confidence": 0.9,
            "bbox_xyxy": [0, 0, 1, 1], "frame_wh": [160, 120], "verification": "pending", "risk_level": None,
            "description": description, "snapshot": "s.jpg", "clip": None}


def found(conn: sqlite3.Connection, *words: str) -> set[str]:
    return set(search.keyword_scores(conn, search.fts_query(words), ["fall-1", "zone-1"]))


def test_an_index_from_before_the_upgrade_becomes_searchable(tmp_path: Path) -> None:
    old = sqlite3.connect(db.index_path(tmp_path), isolation_level=None)
    for script in db.MIGRATIONS[:2]:
        for statement in migrations.statements(script):
            old.execute(statement)
    old.execute("PRAGMA user_version = 2")
    store.record_event(old, EventRecord("zone-1", 0, "new", START, json.dumps(payload("zone_intrusion", "loading_dock"))))
    old.close()
    conn = db.connect(tmp_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(db.MIGRATIONS)  # every later one applied in order
    assert found(conn, "loading") == {"zone-1"} and found(conn, "intrusion") == {"zone-1"}
    assert found(conn, "fall") == set()


def test_triggers_keep_the_text_in_step_with_writes(tmp_path: Path) -> None:
    conn = db.connect(tmp_path)
    store.record_event(conn, EventRecord("fall-1", 0, "new", START, json.dumps(payload("fall"))))
    assert found(conn, "falling") == {"fall-1"}  # Porter stemming
    row = FindingRow(job_id="j1", event_id="fall-1", camera="cam", kind="verify", status="answered",
                     verdict="confirmed", risk_level="high", label="worker slips off a ladder",
                     description="A worker slips off the ladder and lands on the concrete.", start_ts=START,
                     end_ts=START + 2, window_start_ts=START - 3, window_end_ts=START + 5, track_id=1,
                     bbox_json=None, model="m", answer_text="{}", error=None, answered_ts=START + 9)
    store.record_finding(conn, row)  # the finding's words, and the verdict's description on the event itself
    assert found(conn, "ladder") == {"fall-1"} and found(conn, "concrete") == {"fall-1"}
    later = payload("fall", description="Someone sat down on purpose.")
    store.record_event(conn, EventRecord("fall-1", 1, "update", START + 10, json.dumps({**later, "state": "update"})))
    assert found(conn, "purpose") == {"fall-1"}
    assert conn.execute("SELECT COUNT(*) FROM events_text").fetchone()[0] == 1  # replaced, not added
    conn.close()


def test_words_are_quoted_so_none_is_an_operator() -> None:
    assert search.fts_query(["when", "did", "NOT", "near(", "a", "fall?"]) == '"did" OR "fall" OR "near" OR "not" OR "when"'
