"""Where the index lives and how to talk to it: an SQLite file in the storage folder (the embedded default), or a
PostgreSQL database shared by a site's hosts (`index.url`). One engine per database and process; connections come
in autocommit, and every write goes through `transaction()` (core/transaction.py)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from streamer.core.transaction import WRITING, transaction
from streamer.index import migrate
from streamer.index.migrate import IndexVersionError

__all__ = ["IndexVersionError", "transaction", "connect", "engine", "exists", "index_path", "IndexTarget"]

INDEX_FILE = "index.sqlite3"
BUSY_TIMEOUT_MS = 10_000

IndexTarget = Path | str  # a storage folder (its SQLite file) or a database URL
UNREACHABLE = (OperationalError, InterfaceError)  # the database is away or busy: the same write may succeed later


class NoIndexYet(FileNotFoundError):
    """A reader asked for an SQLite index nothing has written yet."""


def index_path(storage_dir: Path) -> Path:
    return storage_dir / INDEX_FILE


def database_url(target: IndexTarget) -> str:
    """The SQLAlchemy URL of a target; `postgresql://` goes through psycopg 3."""
    if isinstance(target, Path):
        return f"sqlite:///{index_path(target)}"
    if target.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + target.split("://", 1)[1]
    return target


def is_sqlite(target: IndexTarget) -> bool:
    return database_url(target).startswith("sqlite")


def exists(target: IndexTarget) -> bool:
    """Whether there is an index to read (a database server always counts: its schema is made on first use)."""
    return not isinstance(target, Path) or index_path(target).exists()


_engines: dict[tuple[int, str, bool], Engine] = {}
_engines_lock = threading.Lock()


def engine(target: IndexTarget, readonly: bool = False) -> Engine:
    """The process's engine for the database (engines are per process: a forked child must not share sockets)."""
    url = database_url(target)
    key = (os.getpid(), url, readonly)
    with _engines_lock:
        if key not in _engines:
            _engines[key] = _sqlite_engine(url, readonly) if url.startswith("sqlite") else _server_engine(url, readonly)
        return _engines[key]


def _sqlite_engine(url: str, readonly: bool) -> Engine:
    if readonly:
        url = url.replace("sqlite:///", "sqlite:///file:", 1) + "?mode=ro&uri=true"
    # a connection per use, as the file is local: no pool to size against the API's threads
    created = create_engine(
        url, poolclass=NullPool, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    )

    @event.listens_for(created, "connect")
    def _setup(dbapi, _record):
        dbapi.isolation_level = None  # autocommit: transaction() says BEGIN itself
        dbapi.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        dbapi.execute("PRAGMA foreign_keys = ON")  # a user's tokens and sessions go with it
        if not readonly:
            dbapi.execute("PRAGMA journal_mode = WAL")  # readers never block the writer
            dbapi.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable at checkpoints, never corrupt

    _begin_when_writing(created, "BEGIN IMMEDIATE")
    return created


def _server_engine(url: str, readonly: bool) -> Engine:
    created = create_engine(
        url,
        pool_size=4,
        max_overflow=16,
        pool_timeout=10,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"connect_timeout": 5},
    )

    @event.listens_for(created, "connect")
    def _setup(dbapi, _record):
        dbapi.autocommit = True  # as on SQLite: transaction() says BEGIN itself
        if readonly:
            with dbapi.cursor() as cursor:
                cursor.execute("SET default_transaction_read_only = on")

    _begin_when_writing(created, "BEGIN")
    return created


def _begin_when_writing(created: Engine, statement: str) -> None:
    @event.listens_for(created, "begin")
    def _begin(conn):
        if conn.info.get(WRITING):
            conn.exec_driver_sql(statement)


def connect(target: IndexTarget, readonly: bool = False) -> Connection:
    """A connection with the schema up to date. Read-only connections never migrate and never write; on an SQLite
    file nothing has written yet they raise NoIndexYet."""
    if readonly and not exists(target):
        raise NoIndexYet(f"no index at {index_path(target)}")  # type: ignore[arg-type]
    if not readonly and isinstance(target, Path):
        target.mkdir(parents=True, exist_ok=True)
    conn = engine(target, readonly).connect()
    try:
        if readonly:
            migrate.check(conn)
        else:
            migrate.upgrade(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def close_quietly(conn: Connection | None) -> None:
    """Close a connection that may already be broken (the database went away): nothing to tell anyone."""
    if conn is None:
        return
    try:
        conn.close()
    except SQLAlchemyError:
        pass
