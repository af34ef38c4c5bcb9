"""The SQLite files' schema scripts from before Alembic: the index's, PRAGMA user_version 1 to 5, and the users'
store's, 1 and 2. A file at one of those versions is brought to the last by the rest of them and then stamped
with its branch's first Alembic revision, which is the same schema (index/migrate.py). Nothing is ever added
here: later changes are Alembic revisions."""

from __future__ import annotations

from streamer.index import fulltext

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
    # every writer (camera workers, VLM workers, older versions' rows on upgrade) feeds it: the same DDL as the
    # baseline's, so an upgraded file ends as a new one starts
    fulltext.SQLITE_DDL,
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

# users.sqlite3: each entry upgrades the file by one version (PRAGMA user_version); version 1 is the first
# release's schema (which wrote no version: a file at 0 that has a `users` table is at 1)
USERS_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, role TEXT NOT NULL, cameras TEXT, password TEXT NOT NULL,
                                      created_ts REAL NOT NULL);
    CREATE TABLE IF NOT EXISTS tokens (digest TEXT PRIMARY KEY,
                                       name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
                                       label TEXT NOT NULL, created_ts REAL NOT NULL, last_used_ts REAL);
    CREATE TABLE IF NOT EXISTS sessions (digest TEXT PRIMARY KEY,
                                         name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
                                         csrf TEXT NOT NULL, created_ts REAL NOT NULL, expires_ts REAL NOT NULL);
    """,
    # 2: tokens expire (those made before get 90 days from their making, and at least 30 from the upgrade, so no
    # program loses its access on the day it is upgraded); a secret for the device cookies of the login limit
    f"""
    ALTER TABLE tokens ADD COLUMN expires_ts REAL;
    UPDATE tokens SET expires_ts = MAX(created_ts + {90 * 86400}, CAST(strftime('%s', 'now') AS REAL) + 30 * 86400);
    CREATE INDEX IF NOT EXISTS sessions_by_name ON sessions (name, created_ts);
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
)
