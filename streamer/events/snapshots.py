"""One annotated JPEG per event, written when the event starts; its messages all point to it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import cv2

from streamer.annotate import annotate, draw_line, highlight
from streamer.config.cameras import CameraConfig
from streamer.events.event import Event, EventState
from streamer.frame import TrackedFrame
from streamer.storage import snapshot_relpath

log = logging.getLogger("streamer.events")
JPEG_QUALITY = 85


def snapshot_path(event: Event) -> str:
    """Relative to the storage folder; derived from the event alone, so every message can name it."""
    return snapshot_relpath(event.camera, event.event_id, event.start_ts)


class SnapshotWriter:
    def __init__(self, storage_dir: Path, camera: CameraConfig, on_written: Callable[[str], None] | None = None):
        self.storage_dir = storage_dir
        self.on_written = on_written  # the object store's upload list, when there is one
        self.reconfigure(camera)

    def reconfigure(self, camera: CameraConfig) -> None:
        """The zones and crossing lines drawn on the snapshots (a reload may change them)."""
        self.zones = dict(camera.zones)
        self.lines = [(rule.rule_name, rule.start, rule.end) for rule in camera.rules if rule.type == "line_crossing"]

    def write(self, event: Event, tracked: TrackedFrame) -> str:
        """Returns the relative path. A failed write is logged, not raised: the alert matters more than its picture."""
        relative = snapshot_path(event)
        image = annotate(tracked, self.zones)
        for name, start, end in self.lines:
            image = draw_line(image, start, end, name)
        track = f" #{event.track_id}" if event.track_id is not None else ""
        image = highlight(image, event.bbox_xyxy, f"{event.type}{track} {event.label} {event.confidence:.2f}")
        target = self.storage_dir / relative
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(str(target), image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
                raise OSError("cv2.imwrite returned False")
        except OSError as error:
            log.error(
                "snapshot not written: %s", error, extra={"fields": {"camera": event.camera, "path": str(target)}}
            )
            return relative
        if self.on_written is not None:
            self.on_written(relative)
        return relative


class SnapshotSink:
    """Event sink: the snapshot of each new event, on the frame it was seen on."""

    def __init__(self, writer: SnapshotWriter):
        self.writer = writer

    def reconfigure(self, camera: CameraConfig) -> None:
        self.writer.reconfigure(camera)

    def on_events(self, events: list[Event], tracked: TrackedFrame | None) -> None:
        if tracked is None:
            return
        for event in events:
            if event.state is EventState.NEW:
                self.writer.write(event, tracked)

    def close(self) -> None:
        pass
