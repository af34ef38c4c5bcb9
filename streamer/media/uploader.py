"""The host's uploader: a thread of `streamer run` that takes the outbox's files in order and puts each in the
object store, then, `local_keep_h` later, deletes the local copy. While the store cannot be reached nothing is
lost: the files wait on the local disk (their size is the backlog, reported), and the first retry that gets
through takes them all, oldest first. An outage and its end are said on the health stream (component `uploads`)."""

from __future__ import annotations

import enum
import logging
import statistics
import threading
import time
from collections import deque
from pathlib import Path

from streamer.core.backoff import Backoff
from streamer.core.health import HealthChange, HealthListener
from streamer.core.lifecycle import Transitions
from streamer.media.objects import ObjectStore, ObjectStoreError
from streamer.media.outbox import OutboxReader
from streamer.storage import UnsafePath, resolve_inside

log = logging.getLogger("streamer.uploads")


class UploadState(str, enum.Enum):
    CAUGHT_UP = "caught_up"  # nothing waiting
    UPLOADING = "uploading"
    BACKLOGGED = "backlogged"  # the store cannot be reached: files wait on the local disk


# each pass may find the store reachable or not, with files waiting or none: every state may follow every other
UPLOAD_TRANSITIONS: Transitions[UploadState] = Transitions(
    "uploader", {state: set(UploadState) - {state} for state in UploadState}
)


class Uploader:
    def __init__(
        self,
        storage_dir: Path,
        objects: ObjectStore,
        keep_local_s: float,
        on_state: HealthListener | None = None,
        every_s: float = 1.0,
    ):
        self.storage_dir = storage_dir
        self.objects = objects
        self.keep_local_s = keep_local_s
        self.on_state = on_state
        self.every_s = every_s
        self.reader = OutboxReader(storage_dir)
        self.state = UploadState.CAUGHT_UP
        self._backlogged = False
        self.uploaded_files = 0
        self.uploaded_bytes = 0
        self.lags_s: deque[float] = deque(maxlen=1000)  # finished on disk → in the store
        self._local: deque[tuple[float, str]] = deque()  # (uploaded at, path) of local copies to delete later
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="uploader", daemon=True)

    def start(self) -> "Uploader":
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop, after one more pass over what is finished by now (what the store refuses waits for the next run)."""
        self._stop.set()
        self._thread.join(30.0)
        try:
            self.run_once()
        except ObjectStoreError as error:
            files, size = self.reader.backlog()
            log.warning("uploads wait for the next start: %s", error, extra={"fields": {"files": files, "bytes": size}})

    def figures(self) -> dict:
        files, size = self.reader.backlog()
        lags = list(self.lags_s)
        return {
            "state": self.state.value,
            "uploaded_files": self.uploaded_files,
            "uploaded_bytes": self.uploaded_bytes,
            "backlog_files": files,
            "backlog_bytes": size,
            "lag_p50_s": round(statistics.median(lags), 3) if lags else None,
        }

    def run_once(self) -> int:
        """Upload what is waiting, in order; ObjectStoreError when the store failed (what is left stays listed)."""
        done = 0
        while pending := self.reader.pending(limit=200):
            for item in pending:
                if self._upload(item.relative):
                    done += 1
                self.reader.done(item)
        self.reader.finished_lists(time.strftime("%Y%m%d", time.gmtime(time.time() - 3600)))
        self._trim_local()
        return done

    def _upload(self, relative: str) -> bool:
        try:
            path = resolve_inside(self.storage_dir, relative)
            stat = path.stat()
        except (UnsafePath, OSError):
            log.warning(
                "listed for upload but not on disk (deleted by retention first?)", extra={"fields": {"path": relative}}
            )
            return False
        self._set(UploadState.UPLOADING, "")
        self.objects.put_file(relative, path)
        self.uploaded_files += 1
        self.uploaded_bytes += stat.st_size
        self.lags_s.append(max(0.0, time.time() - stat.st_mtime))
        self._local.append((time.time(), relative))
        return True

    def _trim_local(self) -> None:
        while self._local and self._local[0][0] <= time.time() - self.keep_local_s:
            _, relative = self._local.popleft()
            try:
                resolve_inside(self.storage_dir, relative).unlink(missing_ok=True)
            except (UnsafePath, OSError) as error:
                log.warning("local copy not deleted: %s", error, extra={"fields": {"path": relative}})

    def _run(self) -> None:
        backoff = Backoff(0.5, 30.0)
        while True:
            try:
                self.run_once()
                self._set(UploadState.CAUGHT_UP, "")
                backoff.reset()
                wait = self.every_s
            except ObjectStoreError as error:
                files, size = self.reader.backlog()
                self._set(
                    UploadState.BACKLOGGED, f"{error}; {files} files ({size / 1e6:.1f} MB) wait on the local disk"
                )
                wait = backoff.next_delay()
            except Exception:  # a bug in one pass must not end uploads for good
                log.exception("upload pass failed")
                wait = self.every_s
            if self._stop.wait(wait):
                return

    def _set(self, state: UploadState, reason: str) -> None:
        """Uploading and caught up take turns every few seconds: only an outage, and being caught up after one,
        are news (logged and said on the health stream)."""
        if state is self.state:
            return
        UPLOAD_TRANSITIONS.check(self.state, state)
        self.state = state
        if state is UploadState.BACKLOGGED and not self._backlogged:
            self._backlogged = True
            self._announce(state, reason)
        elif state is UploadState.CAUGHT_UP and self._backlogged:
            self._backlogged = False
            self._announce(state, "the object store answers again: the backlog is uploaded")

    def _announce(self, state: UploadState, reason: str) -> None:
        level = logging.WARNING if state is UploadState.BACKLOGGED else logging.INFO
        log.log(level, "uploads %s", state.value, extra={"fields": {"reason": reason}})
        if self.on_state is not None:
            self.on_state(HealthChange("uploads", "uploads", state.value, reason))
