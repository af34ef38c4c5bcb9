"""Is anything moving? A running-average background on a small grayscale copy of each sampled frame.

The shape of Frigate's "improved" motion detector, the field's proven design: the frame made small and grey,
its contrast stretched to its own 4th-96th percentiles (so a cloud or the camera's gain moving the whole
picture's brightness does not read as motion; Frigate averages them over 50 frames, which lets a cloud
through), a light blur against sensor and compression noise, the difference from a background that learns
slowly, a threshold, one dilation, and the blobs above a minimum area. A change
over most of the frame at once is the light (headlights, the infrared switch), not an object: the background
starts again from that frame. Blobs that stay (a car that parks) become background once they have moved for a
while. Masked areas never move. A new frame size starts the model again."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import cv2
import numpy as np

from streamer.config.motion import MotionConfig

ABSORB_AFTER = 10  # consecutive frames with motion after which the background takes them in (a parked car)
CALIBRATE_RATE = 0.2  # how fast the background learns while new, after a lighting change, and what stays moving


class MotionVerdict(str, enum.Enum):
    STILL = "still"
    MOTION = "motion"
    LIGHTING = "lighting"  # most of the frame changed at once: the light, and the background starts again
    CALIBRATING = "calibrating"  # the background is new (first frames, a new frame size)


@dataclass(frozen=True)
class MotionResult:
    verdict: MotionVerdict
    boxes: tuple[tuple[int, int, int, int], ...]  # moving blobs, xyxy in source-frame pixels
    changed: float  # part of the (unmasked) small frame that differs from the background, 0-1


class MotionDetector:
    def __init__(self, config: MotionConfig):
        self.config = config
        self._shape: tuple[int, int] | None = None

    def set_masks(self, masks: list) -> None:
        """A reload changed the masks: the background starts again, since it was learned with the old ones blanked."""
        self.config = self.config.model_copy(update={"masks": masks})
        if self._shape is not None:
            self._start(*self._shape)

    def _start(self, height: int, width: int) -> None:
        """A new background for frames of this size (the first frame, or a camera that changed resolution)."""
        self._shape = (height, width)
        self.small = (self.config.frame_height, max(1, round(self.config.frame_height * width / height)))
        self.scale = height / self.small[0]
        self.background: np.ndarray | None = None
        self.calibrating = True
        self.moving_frames = 0
        drawn = np.zeros(self.small, dtype=np.uint8)
        for polygon in self.config.masks:
            points = np.round(np.array(polygon, dtype=np.float64) / self.scale).astype(np.int32)
            cv2.fillPoly(drawn, [points], 255)
        self.masked = drawn > 0  # where motion is ignored, worked out once per frame size
        self.unmasked = max(1, int(np.count_nonzero(~self.masked)))

    def check(self, image: np.ndarray) -> MotionResult:
        """One BGR frame (any size); returns what moved since the background."""
        height, width = image.shape[:2]
        if self._shape != (height, width):
            self._start(height, width)
        small = self._prepare(image)
        if self.background is None:
            self.background = small.astype(np.float32)
            return MotionResult(MotionVerdict.CALIBRATING, (), 0.0)
        delta = cv2.absdiff(small, cv2.convertScaleAbs(self.background))
        changed_mask = cv2.dilate(
            cv2.threshold(delta, self.config.threshold, 255, cv2.THRESH_BINARY)[1], None, iterations=1
        )
        changed_mask[self.masked] = 0
        changed = float(np.count_nonzero(changed_mask)) / self.unmasked
        if changed > self.config.lighting_change:
            self.background = small.astype(np.float32)  # the light changed: start again from this picture
            self.calibrating, self.moving_frames = True, 0
            return MotionResult(MotionVerdict.LIGHTING, (), changed)
        boxes = self._blobs(changed_mask)
        self._learn(small, bool(boxes))
        if self.calibrating:
            if changed < 0.05 and len(boxes) <= 4:
                self.calibrating = False
            return MotionResult(MotionVerdict.CALIBRATING, boxes, changed)
        return MotionResult(MotionVerdict.MOTION if boxes else MotionVerdict.STILL, boxes, changed)

    def _prepare(self, image: np.ndarray) -> np.ndarray:
        small = cv2.resize(image, (self.small[1], self.small[0]), interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
        low, high = np.percentile(grey, (4, 96))
        if low < high:  # a picture of one colour (a lens cap, a black frame) stays as it is
            grey = ((np.clip(grey, low, high) - low) * (255.0 / (high - low))).astype(np.uint8)
        grey[self.masked] = 0
        return cv2.GaussianBlur(grey, (3, 3), 0)

    def _blobs(self, changed_mask: np.ndarray) -> tuple[tuple[int, int, int, int], ...]:
        contours, _ = cv2.findContours(changed_mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        boxes = []
        for contour in contours:
            if cv2.contourArea(contour) > self.config.contour_area:
                x, y, w, h = cv2.boundingRect(contour)
                boxes.append(
                    (int(x * self.scale), int(y * self.scale), int((x + w) * self.scale), int((y + h) * self.scale))
                )
        return tuple(boxes)

    def _learn(self, small: np.ndarray, moving: bool) -> None:
        """The background learns from still frames at `learning_rate`; moving ones it ignores (a person walking
        must not become background) until the change has lasted ABSORB_AFTER frames, then takes it in fast: what
        stays changed is the scene now (a parked car, a partial change of light). An object taken in is not lost:
        the detector keeps running while its track is alive."""
        self.moving_frames = self.moving_frames + 1 if moving else 0
        if moving and self.moving_frames < ABSORB_AFTER and not self.calibrating:
            return
        rate = CALIBRATE_RATE if self.calibrating or moving else self.config.learning_rate
        cv2.accumulateWeighted(small, self.background, rate)
