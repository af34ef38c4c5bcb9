"""The database's tables, once, for every database they live in (SQLite by default, PostgreSQL for a site of many
hosts): the index's, and the users' (at the end). The names and columns are those the SQLite files have had since
the index's fifth version and the users' second, so an existing file is the same schema and upgrades in place
(index/migrate.py). Keyword search is the one part each database does its own
way (FTS5 tables beside these on SQLite, a tsvector column on PostgreSQL), in index/fulltext.py."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
)

metadata = MetaData()

segments = Table(
    "segments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("camera", Text, nullable=False),
    Column("start_ts", Float, nullable=False),  # wall clock of the first frame (from its PTS)
    Column("end_ts", Float, nullable=False),  # wall clock of the last frame plus its duration
    Column("path", Text, nullable=False, unique=True),  # relative to the storage folder
    Column("codec", Text, nullable=False),
    Column("fps", Float),
    Column("frames", Integer, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("media_start_s", Float, nullable=False),  # PTS of the first frame inside the file
    Column("transcoded", Integer, nullable=False, server_default="0"),
    Column("created_ts", Float, nullable=False),
    Index("segments_by_camera_time", "camera", "start_ts"),
    Index("segments_by_time", "start_ts"),
)

gaps = Table(
    "gaps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("camera", Text, nullable=False),
    Column("start_ts", Float, nullable=False),
    Column("end_ts", Float, nullable=False),
    Column("reason", Text, nullable=False),
    Index("gaps_by_camera_time", "camera", "start_ts"),
)

events = Table(
    "events",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("camera", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("rule", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("label", Text, nullable=False),
    Column("track_id", BigInteger),
    Column("start_ts", Float, nullable=False),
    Column("end_ts", Float),
    Column("confidence", Float, nullable=False),
    Column("bbox_json", Text, nullable=False),
    Column("frame_w", Integer, nullable=False),
    Column("frame_h", Integer, nullable=False),
    Column("verification", Text, nullable=False),
    Column("risk_level", Text),
    Column("description", Text),
    Column("snapshot", Text),
    Column("clip", Text),
    Column("source_json", Text, nullable=False),
    Column("payload_json", Text, nullable=False),  # the latest alert payload, whole
    Column("updated_ts", Float, nullable=False),
    Index("events_by_camera_time", "camera", "start_ts"),
    Index("events_by_time", "start_ts"),
    # the alert list's filters, each on an index (a filter that matches nothing must not read every event)
    Index("events_by_type_time", "type", "start_ts"),
    Index("events_by_verification_time", "verification", "start_ts"),
    Index("events_by_risk_time", "risk_level", "start_ts"),
)

event_states = Table(
    "event_states",
    metadata,
    Column("event_id", Text, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("state", Text, nullable=False),
    Column("observed_ts", Float, nullable=False),
    Column("payload_json", Text, nullable=False),
    PrimaryKeyConstraint("event_id", "seq"),
)

track_seconds = Table(
    "track_seconds",
    metadata,
    Column("camera", Text, nullable=False),
    Column("second", BigInteger, nullable=False),  # floor of the wall-clock time
    Column("track_id", BigInteger, nullable=False),
    Column("label", Text, nullable=False),
    Column("x1", Float, nullable=False),
    Column("y1", Float, nullable=False),
    Column("x2", Float, nullable=False),
    Column("y2", Float, nullable=False),
    Column("confidence", Float, nullable=False),
    PrimaryKeyConstraint("camera", "second", "track_id"),
    sqlite_with_rowid=False,
)

# what the VLM said about each event (one row per job); watch sightings have no event of their own
vlm_findings = Table(
    "vlm_findings",
    metadata,
    Column("job_id", Text, primary_key=True),
    Column("event_id", Text),
    Column("camera", Text, nullable=False),
    Column("kind", Text, nullable=False),  # verify | watch
    Column("status", Text, nullable=False),  # answered | invalid | failed
    Column("verdict", Text),  # confirmed | rejected
    Column("risk_level", Text),
    Column("label", Text),
    Column("description", Text),
    Column("start_ts", Float),  # the VLM's own times, wall clock
    Column("end_ts", Float),
    Column("window_start_ts", Float, nullable=False),
    Column("window_end_ts", Float, nullable=False),
    Column("track_id", BigInteger),
    Column("bbox_json", Text),
    Column("model", Text, nullable=False),
    Column("answer_text", Text),  # the model's raw answer, for audits
    Column("error", Text),
    Column("answered_ts", Float, nullable=False),
    Index("vlm_findings_by_event", "event_id"),
    Index("vlm_findings_by_camera_time", "camera", "window_start_ts"),
)

# people's verdicts on events (the console's true / false alarm), every one kept, the latest wins
reviews = Table(
    "reviews",
    metadata,
    Column("event_id", Text, nullable=False),
    Column("verdict", Text, CheckConstraint("verdict IN ('true_alarm', 'false_alarm')"), nullable=False),
    Column("note", Text),
    Column("reviewer", Text, nullable=False),
    Column("reviewed_ts", Float, nullable=False),
    PrimaryKeyConstraint("event_id", "reviewed_ts", "reviewer"),
    Index("reviews_by_time", "reviewed_ts"),
)


# The users of the console and the API, their API tokens and login sessions (streamer/auth/store.py): in the site's
# PostgreSQL database with index.url, so that every API replica knows the same users; otherwise in their own file,
# <storage_dir>/users.sqlite3 (mode 600). A branch of migrations of their own (`users@head`).
users_metadata = MetaData()

users = Table(
    "users",
    users_metadata,
    Column("name", Text, primary_key=True),
    Column("role", Text, nullable=False),
    Column("cameras", Text),  # a JSON list, or NULL for every camera
    Column("password", Text, nullable=False),  # scrypt hash
    Column("created_ts", Float, nullable=False),
)

tokens = Table(
    "tokens",
    users_metadata,
    Column("digest", Text, primary_key=True),  # SHA-256 of the token: the token itself is never stored
    Column("name", Text, ForeignKey("users.name", ondelete="CASCADE"), nullable=False),
    Column("label", Text, nullable=False),
    Column("created_ts", Float, nullable=False),
    Column("last_used_ts", Float),
    Column("expires_ts", Float),
)

sessions = Table(
    "sessions",
    users_metadata,
    Column("digest", Text, primary_key=True),
    Column("name", Text, ForeignKey("users.name", ondelete="CASCADE"), nullable=False),
    Column("csrf", Text, nullable=False),
    Column("created_ts", Float, nullable=False),
    Column("expires_ts", Float, nullable=False),
    Index("sessions_by_name", "name", "created_ts"),
)

meta = Table(
    "meta",
    users_metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)
