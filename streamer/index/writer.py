"""Batched index writes on a thread of their own: the live path hands rows over and never waits on SQLite."""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from streamer.index import db, store
from streamer.index.rows import EventRecord, TrackSecond

log = logging.getLogger("streamer.index")

FLUSH_EVERY_S = 0.5
MAX_BATCH = 2000
MAX_PENDING = 50_000  # a wedged disk must not grow memory without bound: beyond this, track rows are dropped

Write = Callable[[sqlite3.Connection], None]


class IndexWriter:
    def __init__(self, storage_dir: Path, name: str = "index"):
        self.conn = db.connect(storage_dir)
        self._queue: queue.Queue[Write | None] = queue.Queue()
        self.dropped_track_rows = 0
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
        self.conn.close()
        if self.dropped_track_rows:
            log.warning("index fell behind; track summary rows dropped", extra={"fields": {"rows": self.dropped_track_rows}})

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
        if not batch:
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            for write in batch:
                write(self.conn)
            self.conn.execute("COMMIT")
        except sqlite3.Error as error:
            log.error("index write failed: %s", error, extra={"fields": {"rows": len(batch)}})
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass


class _AfterCommit:
    def __init__(self, callback: Callable[[], None]):
        self.callback = callback

    def __call__(self, conn: sqlite3.Connection) -> None:  # pragma: no cover - never run inside the transaction
        pass
