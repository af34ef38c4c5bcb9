"""Each ended event gets its clip (pre-roll to post-roll), cut once the recorder has closed the segments that
cover it; the clip is then announced with an `update` alert of the event. Runs on its own thread."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path

import av

from streamer.config.recording import RecordConfig
from streamer.events.event import Event, EventState
from streamer.frame import TrackedFrame
from streamer.index import db, store
from streamer.record.export import NoRecording, export_clip
from streamer.record.recorder import Recorder
from streamer.storage import event_clip_relpath

log = logging.getLogger("streamer.recorder")

ClipReady = Callable[[Event, str], None]


class EventClipper:
    def __init__(self, storage_dir: Path, recorder: Recorder, config: RecordConfig, on_clip: ClipReady):
        self.storage_dir = storage_dir
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
        conn = db.connect(self.storage_dir)
        try:
            while (event := self._jobs.get()) is not None:
                try:
                    self._clip(conn, event)
                except Exception:  # one bad clip must not stop the others
                    log.exception("event clip failed", extra={"fields": {"event_id": event.event_id}})
        finally:
            conn.close()

    def _clip(self, conn, event: Event) -> None:
        assert event.end_ts is not None
        start, end = event.start_ts - self.config.pre_roll_s, event.end_ts + self.config.post_roll_s
        wait_s = 3 * self.config.segment_s + self.config.post_roll_s + 30.0
        if not self.recorder.wait_covered(end, wait_s):
            log.warning("event clip cut short: the recording has not reached its end yet",
                        extra={"fields": {"event_id": event.event_id, "waited_s": wait_s}})
        relative = event_clip_relpath(event.camera, event.event_id, event.start_ts)
        try:
            clip = export_clip(self.storage_dir, conn, event.camera, start, end, self.storage_dir / relative)
        except (NoRecording, av.FFmpegError, OSError) as error:
            log.warning("event has no clip: %s", error, extra={"fields": {"event_id": event.event_id}})
            return
        conn.execute("BEGIN IMMEDIATE")
        store.set_event_clip(conn, event.event_id, relative)
        conn.execute("COMMIT")
        log.info("event clip written", extra={"fields": {
            "event_id": event.event_id, "path": relative, "seconds": round(clip.end_ts - clip.first_ts, 2), "segments": clip.segments}})
        self.on_clip(event, relative)
