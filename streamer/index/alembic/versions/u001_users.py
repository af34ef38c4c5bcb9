"""The users, their API tokens and login sessions, and the store's secrets, as the second version of
users.sqlite3 had them: the `users` branch, beside the index's in a site's database.

A users.sqlite3 written before Alembic (PRAGMA user_version 1 or 2) is brought to version 2 by its own scripts
and stamped with this revision (index/migrate.py); a new store, of either kind, starts here.

Revision ID: u001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "u001"
down_revision = None
branch_labels = ("users",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("cameras", sa.Text(), nullable=True),
        sa.Column("password", sa.Text(), nullable=False),
        sa.Column("created_ts", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    for table in ("tokens", "sessions"):
        own = (
            [sa.Column("label", sa.Text(), nullable=False)]
            if table == "tokens"
            else [sa.Column("csrf", sa.Text(), nullable=False)]
        )
        times = (
            [
                sa.Column("created_ts", sa.Float(), nullable=False),
                sa.Column("last_used_ts", sa.Float()),
                sa.Column("expires_ts", sa.Float()),
            ]
            if table == "tokens"
            else [
                sa.Column("created_ts", sa.Float(), nullable=False),
                sa.Column("expires_ts", sa.Float(), nullable=False),
            ]
        )
        op.create_table(
            table,
            sa.Column("digest", sa.Text(), nullable=False),
            sa.Column("name", sa.Text(), nullable=False),
            *own,
            *times,
            sa.ForeignKeyConstraint(["name"], ["users.name"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("digest"),
        )
    op.create_index("sessions_by_name", "sessions", ["name", "created_ts"], unique=False)
    op.create_table(
        "meta",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    raise NotImplementedError("the users' store is never downgraded: restore a backup instead")
