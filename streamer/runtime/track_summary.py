"""The per-second track summary for timelines, queries and annotated exports: one box per track and second."""

from __future__ import annotations

import math

from streamer.frame import TrackedFrame
from streamer.index.rows import TrackSecond
from streamer.index.writer import IndexWriter


class TrackSummarySink:
    def __init__(self, camera: str, index: IndexWriter):
        self.camera = camera
        self.index = index
        self._second: int | None = None
        self._rows: dict[int, TrackSecond] = {}

    def __call__(self, tracked: TrackedFrame) -> None:
        second = math.floor(tracked.frame.wall_ts)
        if second != self._second:
            self._flush()
            self._second = second
        detections = tracked.detections
        if detections.tracker_id is None:
            return
        names = detections.data.get("class_name", [""] * len(detections))
        for box, track_id, name, confidence in zip(
            detections.xyxy, detections.tracker_id, names, detections.confidence
        ):
            if int(track_id) not in self._rows:  # the first sighting in the second stands for it
                self._rows[int(track_id)] = TrackSecond(
                    self.camera,
                    second,
                    int(track_id),
                    str(name),
                    tuple(round(float(v), 1) for v in box),
                    round(float(confidence), 3),
                )

    def _flush(self) -> None:
        if self._rows:
            self.index.add_track_seconds(list(self._rows.values()))
        self._rows = {}

    def close(self) -> None:
        self._flush()
