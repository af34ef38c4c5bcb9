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
from dataclasses import dataclass

from streamer.config.cameras import CameraConfig
from streamer.detect.motion import MotionDetector, MotionVerdict
from streamer.engine.stage import DetectedFrame, DetectionStage, to_detections
from streamer.frame import Frame

BUSY_WINDOW = 150  # motion checks (30 s at 5 fps) over which a scene is judged busy: longer than a person passing
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


@dataclass(frozen=True)
class Look:
    """What the motion check said of one frame, before the decision."""

    verdict: MotionVerdict
    busy: bool  # the scene was judged busy at this frame

    @property
    def needs_tracker(self) -> bool:
        """Only a still frame of a calm scene can skip, and whether it may depends on the tracks alive."""
        return self.verdict is MotionVerdict.STILL and not self.busy


class MotionGate:
    """Decides, frame by frame, whether the detector must see it: `look` at every frame in order, then `decide`
    in order, each still frame once the tracker has seen every frame before it."""

    def __init__(self, camera: CameraConfig, has_tracks: Callable[[], bool]):
        self.detector = MotionDetector(camera.detect.motion)
        self.keyframe_s = camera.detect.keyframe_s
        self.has_tracks = has_tracks
        self.mode = GateMode.GATING
        self.counts = GateCounts()
        self._recent: collections.deque[bool] = collections.deque(maxlen=BUSY_WINDOW)
        self._last_detected_pts: float | None = None

    def reconfigure(self, camera: CameraConfig) -> None:
        """A reload changed the motion masks (the other motion settings restart the camera)."""
        if camera.detect.motion.masks != self.detector.config.masks:
            self.detector.set_masks(camera.detect.motion.masks)

    def look(self, frame: Frame) -> Look:
        counts = self.counts
        counts.sampled += 1
        verdict = self.detector.check(frame.image).verdict
        counts.motion_checked += 1
        counts.with_motion += verdict is MotionVerdict.MOTION
        counts.lighting += verdict is MotionVerdict.LIGHTING
        self._follow_busy(verdict is not MotionVerdict.STILL)
        return Look(verdict, self.mode is GateMode.BUSY)

    def decide(self, frame: Frame, look: Look) -> bool:
        reason = self._reason(frame, look)
        if reason is None:
            self.counts.skipped_still += 1
            return False
        self.counts.detected += 1
        self._last_detected_pts = frame.pts_s
        return True

    def needs_detection(self, frame: Frame) -> bool:
        """Both at once, for a caller whose tracker is always up to date (one frame at a time)."""
        return self.decide(frame, self.look(frame))

    def _reason(self, frame: Frame, look: Look) -> str | None:
        if look.busy:
            return "busy"
        if look.verdict is not MotionVerdict.STILL:
            return look.verdict.value
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


@dataclass
class _Entry:
    frame: Frame
    look: Look
    state: str = "undecided"  # → "detecting" (handed to the detector) or "skipped"
    answer: DetectedFrame | None = None


class GatedDetection:
    """A `DetectionStage` in front of another: frames the gate lets through go to it, the others come back with no
    detections, every answer in frame order.

    The decisions are the ones a frame-by-frame loop would make, however many frames the detector holds: a still
    frame is decided only once every frame before it has been answered and tracked (the worker tracks what
    `collect` returned before it calls in again), so the tracks alive are those after the frame before it; a
    frame with motion goes to the detector at once. Files give the same events through the shared engine
    (pipelined) as with the models in the worker."""

    def __init__(self, inner: DetectionStage, gate: MotionGate, extra_models: tuple[str, ...]):
        self.inner = inner
        self.gate = gate
        self.extra_models = extra_models
        self._order: collections.deque[_Entry] = collections.deque()
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
        self._order.append(_Entry(frame, self.gate.look(frame)))
        self._decide()

    def collect(self, timeout: float) -> list[DetectedFrame]:
        self._decide()
        head = self._order[0].state if self._order else None
        waiting_on_inner = head == "detecting" or (head == "undecided" and not self.inner.free())
        self._answers.extend(self.inner.collect(timeout if waiting_on_inner else 0.0))
        out: list[DetectedFrame] = []
        while self._order:
            entry = self._order[0]
            if entry.state == "skipped":
                out.append(entry.answer)  # type: ignore[arg-type]
            elif entry.state == "undecided":
                break  # decided at the next call, once what is returned now has been tracked
            elif self._answers and self._answers[0].frame is entry.frame:
                out.append(self._answers.popleft())
            elif self._answers or not self.inner.inflight:
                pass  # the detector dropped this frame (an engine that died with it): nothing will come for it
            else:
                break
            self._order.popleft()
        return out

    def close(self) -> None:
        self.inner.close()

    def _decide(self) -> None:
        """Decide the undecided frames in order, as far as can be decided now."""
        for index, entry in enumerate(self._order):
            if entry.state != "undecided":
                continue
            if entry.look.needs_tracker and index > 0:
                return  # frames before it are not tracked yet
            if not self.inner.free():
                return  # it may need a slot of the detector's: decided when one is free
            if self.gate.decide(entry.frame, entry.look):
                self.inner.submit(entry.frame)
                entry.state = "detecting"
            else:
                entry.state, entry.answer = "skipped", self._nothing(entry.frame)

    def _nothing(self, frame: Frame) -> DetectedFrame:
        return DetectedFrame(
            frame, to_detections(None, {}), {key: to_detections(None, {}) for key in self.extra_models}, 0.0, ran=False
        )
