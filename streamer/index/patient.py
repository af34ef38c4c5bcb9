"""Writes made in place, in order, that wait out an index that cannot be reached: the recorder's segment and gap
rows. The files are on disk either way; their rows are kept, in order, and go with the next write that gets
through (a PostgreSQL restart costs a delay in the listing, never a row)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from streamer.index import db

log = logging.getLogger("streamer.index")

Write = Callable[[Connection], None]


class PatientWrites:
    def __init__(self, target: db.IndexTarget, name: str):
        self.target = target
        self.name = name
        self.conn: Connection | None = None  # made at the first write: a camera starts while its index is away
        self.waiting: list[Write] = []

    def write(self, change: Write) -> bool:
        """Write `change` after every earlier one still waiting. True when all of them are in the index now."""
        self.waiting.append(change)
        return self.retry()

    def retry(self) -> bool:
        if not self.waiting:
            return True
        try:
            if self.conn is None:
                self.conn = db.connect(self.target)
            with db.transaction(self.conn):
                for change in self.waiting:
                    change(self.conn)
        except DBAPIError as error:
            if not (error.connection_invalidated or isinstance(error, db.UNREACHABLE)):
                log.error(
                    "index refused rows: %s", error, extra={"fields": {"of": self.name, "rows": len(self.waiting)}}
                )
                self.waiting.clear()
                return False
            if len(self.waiting) == 1:  # said once an outage, not at every segment
                log.warning(
                    "index unreachable: rows wait for it",
                    extra={"fields": {"of": self.name, "error": str(error).splitlines()[0]}},
                )
            self._drop_connection()
            return False
        if len(self.waiting) > 1:
            log.info(
                "index reached again: waiting rows written",
                extra={"fields": {"of": self.name, "rows": len(self.waiting)}},
            )
        self.waiting.clear()
        return True

    def close(self) -> None:
        if not self.retry():
            log.error(
                "index unreachable at stop: rows not written",
                extra={"fields": {"of": self.name, "rows": len(self.waiting)}},
            )
        self._drop_connection()

    def _drop_connection(self) -> None:
        db.close_quietly(self.conn)
        self.conn = None
