"""The data that flows through the live path: decoded frames, then frames with their tracked detections."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import supervision as sv


@dataclass(frozen=True, eq=False)
class Frame:
    camera: str
    index: int  # ordinal of the decoded frame on this camera; keeps increasing across reconnects and loops
    pts_s: float  # container PTS × time base, as the stream gave it
    wall_ts: float  # epoch seconds when the frame was captured (docs/architecture.md, "Time")
    image: np.ndarray  # BGR, height × width × 3

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


@dataclass(frozen=True, eq=False)
class TrackedFrame:
    frame: Frame
    detections: sv.Detections  # tracked objects, with tracker_id and data["class_name"]
    extra: Mapping[str, sv.Detections] = field(default_factory=dict)  # untracked extra models, by config key
