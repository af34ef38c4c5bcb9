"""ByteTrack (ultralytics' implementation), one instance per camera, speaking `sv.Detections`."""

from __future__ import annotations

import numpy as np
import supervision as sv
from ultralytics.engine.results import Boxes
from ultralytics.trackers.byte_tracker import BYTETracker
from ultralytics.utils import IterableSimpleNamespace

from streamer.config.cameras import TrackerConfig


def with_class_names(detections: sv.Detections) -> sv.Detections:
    """Empty detections carry no `class_name`; every stage after this one may rely on it."""
    if "class_name" not in detections.data:
        detections.data["class_name"] = np.array([], dtype=str)
    return detections


class CameraTracker:
    def __init__(self, config: TrackerConfig, detect_fps: float):
        # ByteTrack counts its lost-track buffer in updates; the config speaks seconds, so convert at the detect fps
        self.track_buffer = max(1, round(config.track_buffer_s * detect_fps))
        args = IterableSimpleNamespace(
            tracker_type="bytetrack",
            track_high_thresh=config.track_high_thresh,
            track_low_thresh=config.track_low_thresh,
            new_track_thresh=config.new_track_thresh,
            track_buffer=self.track_buffer,
            match_thresh=config.match_thresh,
            fuse_score=config.fuse_score,
        )
        self._tracker = BYTETracker(args)

    def update(self, detections: sv.Detections, frame_shape: tuple[int, int]) -> sv.Detections:
        """Return the confirmed tracks of this frame, each with `tracker_id`; unconfirmed new tracks are held back.

        Boxes and scores are the detector's own for this frame, not the Kalman estimate: rules measure how a box
        changes (a fall is a box turning from tall to wide within a few frames), and the filter lags exactly that."""
        rows = np.zeros((0, 6), dtype=np.float32)
        if len(detections):
            rows = np.column_stack([detections.xyxy, detections.confidence, detections.class_id]).astype(np.float32)
        tracks = self._tracker.update(Boxes(rows, frame_shape))
        if len(tracks) == 0:
            empty = with_class_names(sv.Detections.empty())
            empty.tracker_id = np.zeros(0, dtype=int)
            return empty
        tracked = detections[tracks[:, 7].astype(int)]
        tracked.tracker_id = tracks[:, 4].astype(int)
        return tracked

    def reset(self) -> None:
        self._tracker.reset()
