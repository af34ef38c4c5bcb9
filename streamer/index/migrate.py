"""The database's schemas kept up to date by Alembic, on SQLite and PostgreSQL alike: two branches of one history,
`index` (recordings, events, answers, reviews) and `users` (the console's users, tokens and sessions), which share
a site's PostgreSQL database and live in two files on one machine. A file from before Alembic is upgraded in
place: its own scripts bring it to its last version (index/legacy.py), which is its branch's first revision, and
it is stamped so. Upgrades run in one transaction under the database's write lock (an advisory lock on
PostgreSQL), so hosts and workers starting together never migrate twice; a failed upgrade changes nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from streamer.core.migrations import statements
from streamer.core.transaction import transaction
from streamer.index import legacy

_MIGRATION_LOCK = 0x5747_1D3E  # pg_advisory_xact_lock's key: one upgrader at a time across the site

logging.getLogger("alembic").setLevel(logging.WARNING)


class IndexVersionError(RuntimeError):
    """The database was written by a later streamer: its rows may mean what this one cannot know."""


@dataclass(frozen=True)
class Schema:
    branch: str  # the Alembic branch label
    baseline: str  # its first revision: the schema of the last pre-Alembic version of its SQLite file
    legacy: Sequence[str]  # that file's own scripts, version 1 first
    legacy_version: Callable[[Connection], int]  # that file's version (0: new)


def _pragma_version(conn: Connection) -> int:
    return conn.exec_driver_sql("PRAGMA user_version").scalar_one()


def _users_version(conn: Connection) -> int:
    version = _pragma_version(conn)
    if version == 0 and conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'users'").first():
        return 1  # the first release wrote no version
    return version


INDEX = Schema("index", "0001", legacy.MIGRATIONS, _pragma_version)
USERS = Schema("users", "u001", legacy.USERS_MIGRATIONS, _users_version)


def _config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).with_name("alembic")))
    config.attributes["connection"] = conn
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


@cache
def _revisions(schema: Schema) -> frozenset[str]:
    return frozenset(script.revision for script in _scripts().iterate_revisions(f"{schema.branch}@head", "base"))


def head(schema: Schema = INDEX) -> str:
    return _scripts().get_revision(f"{schema.branch}@head").revision


def current(conn: Connection, schema: Schema = INDEX) -> str | None:
    """The branch's revision in this database (None: not made yet, or from before Alembic)."""
    heads = MigrationContext.configure(conn).get_current_heads()
    known = _revisions(schema)
    ours = [revision for revision in heads if revision in known]
    if ours:
        return ours[0]
    unknown = [revision for revision in heads if not any(revision in _revisions(s) for s in (INDEX, USERS))]
    if unknown:
        raise IndexVersionError(
            f"the {schema.branch} schema is at revision {unknown[0]}; this streamer knows up to {head(schema)}"
        )
    return None


def check(conn: Connection, schema: Schema = INDEX) -> None:
    """Refuse a database a later streamer wrote (a reader cannot know what its rows mean)."""
    if current(conn, schema) is None:
        _legacy_version(conn, schema)


def upgrade(conn: Connection, schema: Schema = INDEX) -> None:
    """Bring the branch to its head revision; at the head already (the common case), one read and no lock."""
    if current(conn, schema) != head(schema):
        with transaction(conn):
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            _upgrade_locked(conn, schema)


def _upgrade_locked(conn: Connection, schema: Schema) -> None:
    if current(conn, schema) is None:  # again, under the lock: another process may have done it meanwhile
        version = _legacy_version(conn, schema)
        if version:
            for script in schema.legacy[version:]:
                for statement in statements(script):
                    conn.exec_driver_sql(statement)
            conn.exec_driver_sql(f"PRAGMA user_version = {len(schema.legacy)}")
            command.stamp(_config(conn), schema.baseline)
    command.upgrade(_config(conn), f"{schema.branch}@head")


def _legacy_version(conn: Connection, schema: Schema) -> int:
    """An SQLite file's version from before Alembic (0: new, or not SQLite)."""
    if conn.dialect.name != "sqlite":
        return 0
    version = schema.legacy_version(conn)
    if version > len(schema.legacy):
        raise IndexVersionError(
            f"the {schema.branch} schema is version {version}; this streamer knows up to {len(schema.legacy)}"
        )
    return version
