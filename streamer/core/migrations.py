"""Versioned SQLite schemas: each script not yet applied runs in order and sets `PRAGMA user_version` to its number,
all in one IMMEDIATE transaction, so two processes starting together never migrate at once and a failed script
leaves the file as it was."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence


def statements(script: str) -> list[str]:
    """Split at the semicolons that end a statement (a trigger's body has its own)."""
    found, pending = [], ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                found.append(pending.strip())
            pending = ""
    return found


def migrate(conn: sqlite3.Connection, scripts: Sequence[str], version_of: Callable[[sqlite3.Connection], int]) -> None:
    """Apply `scripts[version:]`, where `version_of` reads (or refuses) the file's current version."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = version_of(conn)
        for number, script in enumerate(scripts[version:], start=version + 1):
            for statement in statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
