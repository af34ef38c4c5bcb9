"""The index as its fifth SQLite version had it, for SQLite and PostgreSQL alike, with keyword search.

An SQLite index written before Alembic (PRAGMA user_version 1 to 5) is brought to version 5 by its own scripts and
stamped with this revision (index/migrate.py); a new index, of either kind, starts here.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from streamer.index import fulltext

revision = "0001"
down_revision = None
branch_labels = ("index",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_states",
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("observed_ts", sa.Float(), nullable=False),
        sa.Column("payload_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "seq"),
    )
    op.create_table(
        "events",
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("camera", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("track_id", sa.BigInteger(), nullable=True),
        sa.Column("start_ts", sa.Float(), nullable=False),
        sa.Column("end_ts", sa.Float(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("bbox_json", sa.Text(), nullable=False),
        sa.Column("frame_w", sa.Integer(), nullable=False),
        sa.Column("frame_h", sa.Integer(), nullable=False),
        sa.Column("verification", sa.Text(), nullable=False),
        sa.Column("risk_level", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("snapshot", sa.Text(), nullable=True),
        sa.Column("clip", sa.Text(), nullable=True),
        sa.Column("source_json", sa.Text(), nullable=False),
        sa.Column("payload_json", sa.Text(), nullable=False),
        sa.Column("updated_ts", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("events_by_camera_time", "events", ["camera", "start_ts"], unique=False)
    op.create_index("events_by_risk_time", "events", ["risk_level", "start_ts"], unique=False)
    op.create_index("events_by_time", "events", ["start_ts"], unique=False)
    op.create_index("events_by_type_time", "events", ["type", "start_ts"], unique=False)
    op.create_index("events_by_verification_time", "events", ["verification", "start_ts"], unique=False)
    op.create_table(
        "gaps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("camera", sa.Text(), nullable=False),
        sa.Column("start_ts", sa.Float(), nullable=False),
        sa.Column("end_ts", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("gaps_by_camera_time", "gaps", ["camera", "start_ts"], unique=False)
    op.create_table(
        "reviews",
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("verdict", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reviewer", sa.Text(), nullable=False),
        sa.Column("reviewed_ts", sa.Float(), nullable=False),
        sa.CheckConstraint("verdict IN ('true_alarm', 'false_alarm')"),
        sa.PrimaryKeyConstraint("event_id", "reviewed_ts", "reviewer"),
    )
    op.create_index("reviews_by_time", "reviews", ["reviewed_ts"], unique=False)
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("camera", sa.Text(), nullable=False),
        sa.Column("start_ts", sa.Float(), nullable=False),
        sa.Column("end_ts", sa.Float(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("codec", sa.Text(), nullable=False),
        sa.Column("fps", sa.Float(), nullable=True),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("media_start_s", sa.Float(), nullable=False),
        sa.Column("transcoded", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_ts", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("path"),
    )
    op.create_index("segments_by_camera_time", "segments", ["camera", "start_ts"], unique=False)
    op.create_index("segments_by_time", "segments", ["start_ts"], unique=False)
    op.create_table(
        "track_seconds",
        sa.Column("camera", sa.Text(), nullable=False),
        sa.Column("second", sa.BigInteger(), nullable=False),
        sa.Column("track_id", sa.BigInteger(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("x1", sa.Float(), nullable=False),
        sa.Column("y1", sa.Float(), nullable=False),
        sa.Column("x2", sa.Float(), nullable=False),
        sa.Column("y2", sa.Float(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("camera", "second", "track_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "vlm_findings",
        sa.Column("job_id", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=True),
        sa.Column("camera", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("verdict", sa.Text(), nullable=True),
        sa.Column("risk_level", sa.Text(), nullable=True),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("start_ts", sa.Float(), nullable=True),
        sa.Column("end_ts", sa.Float(), nullable=True),
        sa.Column("window_start_ts", sa.Float(), nullable=False),
        sa.Column("window_end_ts", sa.Float(), nullable=False),
        sa.Column("track_id", sa.BigInteger(), nullable=True),
        sa.Column("bbox_json", sa.Text(), nullable=True),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("answer_text", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("answered_ts", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("job_id"),
    )
    op.create_index("vlm_findings_by_camera_time", "vlm_findings", ["camera", "window_start_ts"], unique=False)
    op.create_index("vlm_findings_by_event", "vlm_findings", ["event_id"], unique=False)
    fulltext.create(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("the index is never downgraded: restore a backup instead")
