"""One write transaction, the same for every database the index lives in: connections are in autocommit (a reader
never holds a snapshot open), and `transaction()` marks its connection so that the engine's begin hook says BEGIN,
SQLite's BEGIN IMMEDIATE (the write lock at once: two workers never deadlock upgrading a read)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection

WRITING = "streamer_writing"  # set on a connection's info while transaction() holds it


@contextmanager
def transaction(conn: Connection) -> Iterator[Connection]:
    """All of it or none of it, the database's write lock taken at its start."""
    if conn.in_transaction():
        conn.commit()  # only reads ran since the last write: nothing is open in the database itself
    conn.info[WRITING] = True
    try:
        with conn.begin():
            yield conn
    finally:
        conn.info.pop(WRITING, None)
