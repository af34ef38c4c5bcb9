"""Batched index writes on a thread of their own: the live path hands rows over and never waits on the database.
A database that cannot be reached (a PostgreSQL restart, a locked file) costs nothing but time: the batch is kept
and written again, with backoff, when it answers; only track summary rows are dropped past MAX_PENDING."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from streamer.core.backoff import Backoff
from streamer.core.health import HealthChange, HealthListener
from streamer.index import db, store
from streamer.index.rows import EventRecord, TrackSecond

log = logging.getLogger("streamer.index")

FLUSH_EVERY_S = 0.5
MAX_BATCH = 2000
MAX_PENDING = 50_000  # a wedged disk must not grow memory without bound: beyond this, track rows are dropped

Write = Callable[[Connection], None]


class IndexWriter:
    def __init__(self, target: db.IndexTarget, name: str = "index", on_state: HealthListener | None = None):
        self.target = target
        self.name = name  # the camera whose rows these are: the health report's subject
        self.on_state = on_state  # unreachable | reachable: said on the health stream (component `index`)
        self._unreachable_since: float | None = None
        self.conn: Connection | None = None  # made on the writer's thread at the first batch (the database may be away)
        self._queue: queue.Queue[Write | None] = queue.Queue()
        self.dropped_track_rows = 0
        self.retried_batches = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"index-{name}", daemon=True)
        self._thread.start()

    def add_event(self, record: EventRecord) -> None:
        self._queue.put(lambda conn: store.record_event(conn, record))

    def add_track_seconds(self, rows: list[TrackSecond]) -> None:
        if not rows:
            return
        if self._queue.qsize() > MAX_PENDING:  # the summary is for timelines; events are never dropped
            self.dropped_track_rows += len(rows)
            return
        self._queue.put(lambda conn: store.insert_track_seconds(conn, rows))

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything handed over so far is committed."""
        done = threading.Event()
        self._queue.put(_AfterCommit(done.set))
        return done.wait(timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout_s)
        self._stopping.set()  # a database still away: give up the retries (what is left is logged)
        self._thread.join(2.0)
        if self.conn is not None:
            self.conn.close()
        if self.dropped_track_rows:
            log.warning(
                "index fell behind; track summary rows dropped", extra={"fields": {"rows": self.dropped_track_rows}}
            )

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=FLUSH_EVERY_S)
            except queue.Empty:
                continue
            batch: list[Write] = []
            while item is not None:
                batch.append(item)
                if len(batch) >= MAX_BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            self._commit([write for write in batch if not isinstance(write, _AfterCommit)])
            for write in batch:
                if isinstance(write, _AfterCommit):
                    write.callback()
            if item is None:
                return

    def _commit(self, batch: list[Write]) -> None:
        backoff = Backoff(0.2, 5.0)
        while batch:
            try:
                self._write(batch)
                self._reached()
                return
            except DBAPIError as error:
                if not _unreachable(error):
                    log.error("index write failed: %s", error, extra={"fields": {"rows": len(batch)}})
                    return
                self._drop_connection()
                self.retried_batches += 1
                self._lost(error)
                delay = backoff.next_delay()
                log.warning(
                    "index unreachable, batch kept: %s",
                    str(error).splitlines()[0],
                    extra={"fields": {"rows": len(batch), "retry_in_s": round(delay, 2)}},
                )
                if self._stopping.wait(delay):
                    log.error("index unreachable at stop: batch lost", extra={"fields": {"rows": len(batch)}})
                    return
            except SQLAlchemyError as error:  # a row the database refuses: that batch goes, the next may not
                log.error("index write failed: %s", error, extra={"fields": {"rows": len(batch)}})
                return

    def _lost(self, error: DBAPIError) -> None:
        if self._unreachable_since is None:
            self._unreachable_since = time.monotonic()
            if self.on_state is not None:
                self.on_state(
                    HealthChange(
                        self.name, "index", "unreachable", f"rows wait in memory: {str(error).splitlines()[0]}"
                    )
                )

    def _reached(self) -> None:
        if self._unreachable_since is not None:
            away = time.monotonic() - self._unreachable_since
            self._unreachable_since = None
            if self.on_state is not None:
                self.on_state(
                    HealthChange(
                        self.name, "index", "reachable", f"after {away:.1f} s: the rows that waited are written"
                    )
                )

    def _write(self, batch: list[Write]) -> None:
        if self.conn is None:
            self.conn = db.connect(self.target)
        with db.transaction(self.conn):
            for write in batch:
                write(self.conn)

    def _drop_connection(self) -> None:
        db.close_quietly(self.conn)
        self.conn = None


def _unreachable(error: DBAPIError) -> bool:
    """The database is away or busy (worth writing the same batch again), not refusing the rows."""
    return error.connection_invalidated or isinstance(error, db.UNREACHABLE)


class _AfterCommit:
    def __init__(self, callback: Callable[[], None]):
        self.callback = callback

    def __call__(self, conn: Connection) -> None:  # pragma: no cover - never run inside the transaction
        pass
