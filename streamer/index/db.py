"""Open the index database: WAL (readers never block the writer), a busy timeout (several worker processes write),
and versioned migrations applied in order, each in its own transaction."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from streamer.core import migrations

INDEX_FILE = "index.sqlite3"
BUSY_TIMEOUT_MS = 10_000

# what keyword search sees of a row: the type and rule as words, the object, its zone, and what the VLM said
_EVENT_TEXT = ("replace(new.type, '_', ' ') || ' ' || replace(replace(new.rule, '_', ' '), '-', ' ') || ' ' || new.label"
               " || ' ' || coalesce(json_extract(new.source_json, '$.zone'), '') || ' ' || coalesce(new.description, '')")
_FINDING_TEXT = "coalesce(new.label, '') || ' ' || coalesce(new.description, '')"

MIGRATIONS: tuple[str, ...] = (
    # 1: segments, gaps, events with their state history, per-second track summary
    """
    CREATE TABLE segments (
        id INTEGER PRIMARY KEY,
        camera TEXT NOT NULL,
        start_ts REAL NOT NULL,          -- wall clock of the first frame (from its PTS)
        end_ts REAL NOT NULL,            -- wall clock of the last frame plus its duration
        path TEXT NOT NULL UNIQUE,       -- relative to the storage folder
        codec TEXT NOT NULL,
        fps REAL,
        frames INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        media_start_s REAL NOT NULL,     -- PTS of the first frame inside the file
        transcoded INTEGER NOT NULL DEFAULT 0,
        created_ts REAL NOT NULL
    );
    CREATE INDEX segments_by_camera_time ON segments (camera, start_ts);
    CREATE INDEX segments_by_time ON segments (start_ts);
    CREATE TABLE gaps (
        id INTEGER PRIMARY KEY,
        camera TEXT NOT NULL,
        start_ts REAL NOT NULL,
        end_ts REAL NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE INDEX gaps_by_camera_time ON gaps (camera, start_ts);
    CREATE TABLE events (
        event_id TEXT PRIMARY KEY,
        camera TEXT NOT NULL,
        type TEXT NOT NULL,
        rule TEXT NOT NULL,
        state TEXT NOT NULL,
        label TEXT NOT NULL,
        track_id INTEGER,
        start_ts REAL NOT NULL,
        end_ts REAL,
        confidence REAL NOT NULL,
        bbox_json TEXT NOT NULL,
        frame_w INTEGER NOT NULL,
        frame_h INTEGER NOT NULL,
        verification TEXT NOT NULL,
        risk_level TEXT,
        description TEXT,
        snapshot TEXT,
        clip TEXT,
        source_json TEXT NOT NULL,
        payload_json TEXT NOT NULL,      -- the latest alert payload, whole
        updated_ts REAL NOT NULL
    );
    CREATE INDEX events_by_camera_time ON events (camera, start_ts);
    CREATE INDEX events_by_time ON events (start_ts);
    CREATE TABLE event_states (
        event_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        state TEXT NOT NULL,
        observed_ts REAL NOT NULL,
        payload_json TEXT NOT NULL,
        PRIMARY KEY (event_id, seq)
    );
    CREATE TABLE track_seconds (
        camera TEXT NOT NULL,
        second INTEGER NOT NULL,         -- floor of the wall-clock time
        track_id INTEGER NOT NULL,
        label TEXT NOT NULL,
        x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
        confidence REAL NOT NULL,
        PRIMARY KEY (camera, second, track_id)
    ) WITHOUT ROWID;
    """,
    # 2: what the VLM said about each event (one row per job); watch sightings have no event of their own before
    """
    CREATE TABLE vlm_findings (
        job_id TEXT PRIMARY KEY,
        event_id TEXT,
        camera TEXT NOT NULL,
        kind TEXT NOT NULL,              -- verify | watch
        status TEXT NOT NULL,            -- answered | invalid | failed
        verdict TEXT,                    -- confirmed | rejected
        risk_level TEXT,
        label TEXT,
        description TEXT,
        start_ts REAL,                   -- the VLM's own times, wall clock
        end_ts REAL,
        window_start_ts REAL NOT NULL,
        window_end_ts REAL NOT NULL,
        track_id INTEGER,
        bbox_json TEXT,
        model TEXT NOT NULL,
        answer_text TEXT,                -- the model's raw answer, for audits
        error TEXT,
        answered_ts REAL NOT NULL
    );
    CREATE INDEX vlm_findings_by_event ON vlm_findings (event_id);
    CREATE INDEX vlm_findings_by_camera_time ON vlm_findings (camera, window_start_ts);
    """,
    # 3: keyword search (FTS5, Porter stemming) over what events and VLM findings say, kept by triggers so that
    # every writer (camera workers, VLM workers, older versions' rows on upgrade) feeds it
    """
    CREATE VIRTUAL TABLE events_text USING fts5(body, tokenize = 'porter unicode61');
    CREATE VIRTUAL TABLE findings_text USING fts5(body, tokenize = 'porter unicode61');
    CREATE TRIGGER events_text_insert AFTER INSERT ON events BEGIN
        DELETE FROM events_text WHERE rowid = new.rowid;
        INSERT INTO events_text (rowid, body) VALUES (new.rowid, """ + _EVENT_TEXT + """);
    END;
    CREATE TRIGGER events_text_update AFTER UPDATE ON events BEGIN
        DELETE FROM events_text WHERE rowid = old.rowid;
        INSERT INTO events_text (rowid, body) VALUES (new.rowid, """ + _EVENT_TEXT + """);
    END;
    CREATE TRIGGER events_text_delete AFTER DELETE ON events BEGIN
        DELETE FROM events_text WHERE rowid = old.rowid;
    END;
    CREATE TRIGGER findings_text_insert AFTER INSERT ON vlm_findings BEGIN
        DELETE FROM findings_text WHERE rowid = new.rowid;
        INSERT INTO findings_text (rowid, body) VALUES (new.rowid, """ + _FINDING_TEXT + """);
    END;
    CREATE TRIGGER findings_text_delete AFTER DELETE ON vlm_findings BEGIN
        DELETE FROM findings_text WHERE rowid = old.rowid;
    END;
    INSERT INTO events_text (rowid, body) SELECT rowid, """ + _EVENT_TEXT.replace("new.", "") + """ FROM events;
    INSERT INTO findings_text (rowid, body) SELECT rowid, """ + _FINDING_TEXT.replace("new.", "") + """ FROM vlm_findings;
    """,
    # 4: people's verdicts on events (the console's true / false alarm), every one kept, the latest wins
    """
    CREATE TABLE reviews (
        event_id TEXT NOT NULL,
        verdict TEXT NOT NULL CHECK (verdict IN ('true_alarm', 'false_alarm')),
        note TEXT,
        reviewer TEXT NOT NULL,
        reviewed_ts REAL NOT NULL,
        PRIMARY KEY (event_id, reviewed_ts, reviewer)
    );
    CREATE INDEX reviews_by_time ON reviews (reviewed_ts);
    """,
    # 5: the alert list's filters, each on an index (a filter that matches nothing must not read every event)
    """
    CREATE INDEX events_by_type_time ON events (type, start_ts);
    CREATE INDEX events_by_verification_time ON events (verification, start_ts);
    CREATE INDEX events_by_risk_time ON events (risk_level, start_ts);
    """,
)


class IndexVersionError(RuntimeError):
    pass


def index_path(storage_dir: Path) -> Path:
    return storage_dir / INDEX_FILE


def connect(storage_dir: Path, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the schema up to date. Read-only connections never migrate and never write."""
    path = index_path(storage_dir)
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable at checkpoints, never corrupt
        migrate(conn)
    else:
        _check_version(conn)
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """One migrator at a time when several workers start together (see core/migrations.py)."""
    migrations.migrate(conn, MIGRATIONS, _check_version)
    return len(MIGRATIONS)


def _check_version(conn: sqlite3.Connection) -> int:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise IndexVersionError(f"the index is schema version {version}; this streamer knows up to {len(MIGRATIONS)}")
    return version
