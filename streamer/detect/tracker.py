"""ByteTrack, one instance per camera, speaking `sv.Detections` (numpy only: the worker never imports torch)."""

from __future__ import annotations

import numpy as np
import supervision as sv

from streamer.config.cameras import TrackerConfig
from streamer.detect.bytetrack import ByteTracker, ByteTrackSettings


def with_class_names(detections: sv.Detections) -> sv.Detections:
    """Empty detections carry no `class_name`; every stage after this one may rely on it."""
    if "class_name" not in detections.data:
        detections.data["class_name"] = np.array([], dtype=str)
    return detections


class CameraTracker:
    def __init__(self, config: TrackerConfig, detect_fps: float):
        # ByteTrack counts its lost-track buffer in updates; the config speaks seconds, so convert at the detect fps
        self.track_buffer = max(1, round(config.track_buffer_s * detect_fps))
        self._tracker = ByteTracker(
            ByteTrackSettings(
                track_high_thresh=config.track_high_thresh,
                track_low_thresh=config.track_low_thresh,
                new_track_thresh=config.new_track_thresh,
                track_buffer=self.track_buffer,
                match_thresh=config.match_thresh,
                fuse_score=config.fuse_score,
            )
        )

    def update(self, detections: sv.Detections) -> sv.Detections:
        """Return the confirmed tracks of this frame, each with `tracker_id`; unconfirmed new tracks are held back.

        Boxes and scores are the detector's own for this frame, not the Kalman estimate: rules measure how a box
        changes (a fall is a box turning from tall to wide within a few frames), and the filter lags exactly that."""
        tracks = self._tracker.update(
            np.asarray(detections.xyxy, dtype=np.float32).reshape(-1, 4),
            np.asarray(
                detections.confidence if detections.confidence is not None else np.ones(len(detections)),
                dtype=np.float32,
            ),
            np.asarray(
                detections.class_id if detections.class_id is not None else np.zeros(len(detections)), dtype=np.float32
            ),
        )
        if not tracks:
            empty = with_class_names(sv.Detections.empty())
            empty.tracker_id = np.zeros(0, dtype=int)
            return empty
        tracked = detections[np.array([idx for idx, _ in tracks])]
        tracked.tracker_id = np.array([track_id for _, track_id in tracks], dtype=int)
        return tracked

    def has_tracks(self) -> bool:
        """Any track tracked or lost and not yet given up: the motion gate keeps the detector running meanwhile."""
        return self._tracker.has_tracks()

    def reset(self) -> None:
        self._tracker.reset()
