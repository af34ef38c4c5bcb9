"""Motion-gated detection: the detector sees a sampled frame only when it may hold something.

Only a still frame may skip the detector: a frame goes to it when it has motion, when the light changed or the
background is new (the check cannot tell then), while any track is alive (so tracks and rules see every frame of
an event), once every `detect.keyframe_s` regardless (an object that never moves is still found), and always on a
scene that moves all the time (trees, rain, a moving camera: gating would only add a check there, and the stats
say so). The frames that skip go on with no detections, in their place: answers leave in frame order whatever the
detector does with the frames it got."""

from __future__ import annotations

import collections
import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from streamer.config.cameras import CameraConfig
from streamer.detect.motion import MotionDetector, MotionVerdict
from streamer.engine.stage import DetectedFrame, DetectionStage, to_detections
from streamer.frame import Frame

BUSY_WINDOW = 50  # motion checks (10 s at 5 fps) over which a scene is judged busy
BUSY_ENTER, BUSY_LEAVE = 0.8, 0.5  # parts of that window with motion: apart, so the state does not flap


class GateMode(str, enum.Enum):
    GATING = "gating"
    BUSY = "busy"  # the scene moves nearly all the time: every sampled frame is detected


@dataclass
class GateCounts:
    """What happened to every sampled frame (running totals)."""

    sampled: int = 0
    motion_checked: int = 0
    with_motion: int = 0
    lighting: int = 0
    detected: int = 0
    skipped_still: int = 0
    because: collections.Counter = field(default_factory=collections.Counter)  # why frames were detected


class MotionGate:
    """Decides, frame by frame, whether the detector must see it."""

    def __init__(self, camera: CameraConfig, has_tracks: Callable[[], bool]):
        self.detector = MotionDetector(camera.detect.motion)
        self.keyframe_s = camera.detect.keyframe_s
        self.has_tracks = has_tracks
        self.mode = GateMode.GATING
        self.counts = GateCounts()
        self._recent: collections.deque[bool] = collections.deque(maxlen=BUSY_WINDOW)
        self._last_detected_pts: float | None = None

    def needs_detection(self, frame: Frame) -> bool:
        counts = self.counts
        counts.sampled += 1
        result = self.detector.check(frame.image)
        counts.motion_checked += 1
        counts.with_motion += result.verdict is MotionVerdict.MOTION
        counts.lighting += result.verdict is MotionVerdict.LIGHTING
        self._follow_busy(result.verdict is not MotionVerdict.STILL)
        reason = self._reason(frame, result.verdict)
        if reason is None:
            counts.skipped_still += 1
            return False
        counts.detected += 1
        counts.because[reason] += 1
        self._last_detected_pts = frame.pts_s
        return True

    def _reason(self, frame: Frame, verdict: MotionVerdict) -> str | None:
        if self.mode is GateMode.BUSY:
            return "busy"
        if verdict is not MotionVerdict.STILL:
            return verdict.value
        if self.has_tracks():
            return "tracks"
        last = self._last_detected_pts
        # on the stream's own clock: a file read faster than real time is gated as the camera would be
        if last is None or frame.pts_s - last >= self.keyframe_s or frame.pts_s < last:
            return "keyframe"
        return None

    def _follow_busy(self, moving: bool) -> None:
        self._recent.append(moving)
        if len(self._recent) < BUSY_WINDOW:
            return
        share = sum(self._recent) / len(self._recent)
        if self.mode is GateMode.GATING and share >= BUSY_ENTER:
            self.mode = GateMode.BUSY
        elif self.mode is GateMode.BUSY and share < BUSY_LEAVE:
            self.mode = GateMode.GATING


class GatedDetection:
    """A `DetectionStage` in front of another: frames the gate lets through go to it, the others come back at once
    with no detections, every answer in frame order."""

    def __init__(self, inner: DetectionStage, gate: MotionGate, extra_models: tuple[str, ...]):
        self.inner = inner
        self.gate = gate
        self.extra_models = extra_models
        self._order: collections.deque[tuple[Frame, DetectedFrame | None]] = collections.deque()
        self._answers: collections.deque[DetectedFrame] = collections.deque()

    @property
    def inflight(self) -> int:
        return len(self._order)

    @property
    def dropped(self) -> int:
        return self.inner.dropped

    def start(self) -> None:
        self.inner.start()

    def free(self) -> int:
        return self.inner.free()

    def submit(self, frame: Frame) -> None:
        if self.gate.needs_detection(frame):
            self.inner.submit(frame)
            self._order.append((frame, None))
        else:
            self._order.append((frame, self._nothing(frame)))

    def collect(self, timeout: float) -> list[DetectedFrame]:
        waiting_on_inner = bool(self._order) and self._order[0][1] is None
        self._answers.extend(self.inner.collect(timeout if waiting_on_inner else 0.0))
        out: list[DetectedFrame] = []
        while self._order:
            frame, skipped = self._order[0]
            if skipped is not None:
                out.append(skipped)
            elif self._answers and self._answers[0].frame is frame:
                out.append(self._answers.popleft())
            elif self._answers or not self.inner.inflight:
                pass  # the detector dropped this frame (an engine that died with it): nothing will come for it
            else:
                break
            self._order.popleft()
        return out

    def close(self) -> None:
        self.inner.close()

    def _nothing(self, frame: Frame) -> DetectedFrame:
        return DetectedFrame(frame, to_detections(None, {}), {key: to_detections(None, {}) for key in self.extra_models},
                             0.0, ran=False)
