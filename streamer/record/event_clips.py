"""Each ended event gets its clip (pre-roll to post-roll), cut once the recorder has closed the segments that
cover it; the clip is then announced with an `update` alert of the event. Runs on its own thread."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

import av

from streamer.config.recording import RecordConfig
from streamer.core.backoff import Backoff
from streamer.events.event import Event, EventState
from streamer.frame import TrackedFrame
from streamer.index import db, store
from streamer.media.files import MediaFiles
from streamer.record.export import NoRecording, export_clip
from streamer.record.recorder import Recorder
from streamer.storage import event_clip_relpath

log = logging.getLogger("streamer.recorder")
RETRY_FOR_S = 600.0


class _IndexBehind(RuntimeError):
    """The recorder's segment rows are not in the index yet: a clip cut now would miss them."""


ClipReady = Callable[[Event, str], None]


class EventClipper:
    def __init__(
        self,
        storage_dir: Path,
        recorder: Recorder,
        config: RecordConfig,
        on_clip: ClipReady,
        index: db.IndexTarget | None = None,
        files: MediaFiles | None = None,
    ):
        self.storage_dir = storage_dir
        self.index = index or storage_dir
        self.files = files or MediaFiles(storage_dir)  # segments read where they are; each clip uploaded
        self.recorder = recorder
        self.config = config
        self.on_clip = on_clip
        self._jobs: queue.Queue[Event | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=f"clips-{recorder.camera}", daemon=True)
        self._thread.start()

    def submit(self, ended: Event) -> None:
        self._jobs.put(ended)

    def on_events(self, events: list[Event], tracked: TrackedFrame | None) -> None:
        """Event sink: each ended event's clip is cut once the recording covers it."""
        for event in events:
            if event.state is EventState.END:
                self.submit(event)

    def close(self, timeout_s: float = 30.0) -> None:
        self._jobs.put(None)
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while (event := self._jobs.get()) is not None:
            self._clip_patiently(event)

    def _clip_patiently(self, event: Event) -> None:
        """A shared index that is away (or still behind on the recorder's rows) delays the clip, up to
        RETRY_FOR_S; each try on a connection of its own, as the last one may have died with the database."""
        backoff, deadline = Backoff(1.0, 15.0), time.monotonic() + RETRY_FOR_S
        while True:
            try:
                conn = db.connect(self.index)
                try:
                    return self._clip(conn, event)
                finally:
                    conn.close()
            except (*db.UNREACHABLE, _IndexBehind) as error:
                if time.monotonic() > deadline:
                    log.error(
                        "event has no clip: the index stayed away", extra={"fields": {"event_id": event.event_id}}
                    )
                    return
                log.warning(
                    "event clip waits for the index: %s",
                    str(error).splitlines()[0],
                    extra={"fields": {"event_id": event.event_id}},
                )
                time.sleep(backoff.next_delay())
            except Exception:  # one bad clip must not stop the others
                log.exception("event clip failed", extra={"fields": {"event_id": event.event_id}})
                return

    def _clip(self, conn, event: Event) -> None:
        assert event.end_ts is not None
        start, end = event.start_ts - self.config.pre_roll_s, event.end_ts + self.config.post_roll_s
        wait_s = 3 * self.config.segment_s + self.config.post_roll_s + 30.0
        if not self.recorder.wait_covered(end, wait_s):
            log.warning(
                "event clip cut short: the recording has not reached its end yet",
                extra={"fields": {"event_id": event.event_id, "waited_s": wait_s}},
            )
        if self.recorder.index.waiting:
            raise _IndexBehind(f"{len(self.recorder.index.waiting)} segment rows wait for the index")
        relative = event_clip_relpath(event.camera, event.event_id, event.start_ts)
        try:
            clip = export_clip(self.files, conn, event.camera, start, end, self.storage_dir / relative)
        except (NoRecording, av.FFmpegError, OSError) as error:
            log.warning("event has no clip: %s", error, extra={"fields": {"event_id": event.event_id}})
            return
        self.files.finished(relative)
        with db.transaction(conn):
            store.set_event_clip(conn, event.event_id, relative)
        log.info(
            "event clip written",
            extra={
                "fields": {
                    "event_id": event.event_id,
                    "path": relative,
                    "seconds": round(clip.end_ts - clip.first_ts, 2),
                    "segments": clip.segments,
                }
            },
        )
        self.on_clip(event, relative)
