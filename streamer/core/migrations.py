"""SQL scripts taken apart into statements: the SQLite files' scripts from before Alembic (index/legacy.py) and
the keyword search's triggers (index/fulltext.py)."""

from __future__ import annotations

import sqlite3


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
