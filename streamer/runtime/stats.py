"""The per-camera figures logged every few seconds: rates, drops, tracks, state, progress."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from streamer import metrics
from streamer.engine.stage import DetectionStage
from streamer.frame import TrackedFrame
from streamer.runtime.frame_queue import FrameQueue
from streamer.runtime.gate import MotionGate
from streamer.source.reader import VideoSource

log = logging.getLogger("streamer.stats")


@dataclass
class CameraStats:
    camera: str
    interval_s: float
    on_log: Callable[[dict], None] | None = None  # also given each line's fields (the console's live figures)
    gate: MotionGate | None = None  # the camera's motion gate, when it has one
    sampled: int = 0
    detected: int = 0
    detect_ms_total: float = 0.0
    track_ids_seen: set[int] = field(default_factory=set)
    labels_now: Counter[str] = field(default_factory=Counter)
    _last_log: float = field(default_factory=time.monotonic)
    _received_at_last: int = 0
    _detected_at_last: int = 0
    _sampled_at_last: int = 0
    _counted: dict[str, int] = field(default_factory=dict)  # what the Prometheus counters have been given so far

    def record(self, tracked: TrackedFrame, detect_ms: float, ran: bool = True) -> None:
        self.sampled += 1
        if ran:
            self.detected += 1
            self.detect_ms_total += detect_ms
        ids = tracked.detections.tracker_id
        self.track_ids_seen.update(int(i) for i in (ids if ids is not None else []))
        self.labels_now = Counter(tracked.detections.data.get("class_name", []))
        metrics.CAMERA_LAST_FRAME.labels(self.camera).set(time.time())

    def maybe_log(self, source: VideoSource, queue: FrameQueue, detection: DetectionStage, force: bool = False) -> None:
        now = time.monotonic()
        elapsed = now - self._last_log
        if not force and elapsed < self.interval_s:
            return
        counters = source.counters
        fields: dict[str, object] = {
            "camera": self.camera,
            "state": source.state.state.value if source.state.state else "starting",
            "fps_in": (counters.received - self._received_at_last) / max(elapsed, 1e-9),  # what the camera sends
            "fps_sampled": (self.sampled - self._sampled_at_last) / max(elapsed, 1e-9),  # tracked, detected or not
            "fps_detected": (self.detected - self._detected_at_last) / max(elapsed, 1e-9),  # the detector ran
            "detect_ms": self.detect_ms_total / self.detected if self.detected else 0.0,  # hand-over to answer
            "drops": queue.dropped + detection.dropped,  # waiting too long for detection, or lost with the engine
            "queued": len(queue),
            "frames": counters.received,
            "decoded": counters.decoded,  # fewer than frames where non-reference frames are not decoded
            "corrupt_packets": counters.corrupt_packets,
            "corrupt_frames": counters.corrupt_frames,
            "sampled": self.sampled,
            "detected": self.detected,
            **self._gate_fields(),
            "tracks_active": sum(self.labels_now.values()),
            "tracks_total": len(self.track_ids_seen),
            "objects": ",".join(f"{label}:{n}" for label, n in sorted(self.labels_now.items())) or "-",
        }
        if counters.duration_s and counters.last_pts_s is not None:
            fields["progress"] = f"{min(100.0, 100 * counters.last_pts_s / counters.duration_s):.0f}%"
        log.info("camera stats", extra={"fields": fields})
        if self.on_log is not None:
            self.on_log(fields)
        self._export(fields)
        self._last_log, self._received_at_last, self._detected_at_last = now, counters.received, self.detected
        self._sampled_at_last = self.sampled

    def _gate_fields(self) -> dict[str, object]:
        """What the motion gate did with the sampled frames (running totals); `motion: off` without a gate."""
        if self.gate is None:
            return {"motion": "off"}
        counts = self.gate.counts
        return {
            "motion": self.gate.mode.value,
            "motion_checked": counts.motion_checked,
            "with_motion": counts.with_motion,
            "skipped_still": counts.skipped_still,
            "lighting": counts.lighting,
        }

    def _export(self, fields: dict[str, object]) -> None:
        """The line's figures as Prometheus metrics: the rates as gauges, the running totals as counters (their
        growth since the last line, so a counter never moves backwards)."""
        metrics.CAMERA_FPS_IN.labels(self.camera).set(float(fields["fps_in"]))  # type: ignore[arg-type]
        metrics.CAMERA_FPS_DETECTED.labels(self.camera).set(float(fields["fps_detected"]))  # type: ignore[arg-type]
        metrics.CAMERA_FPS_SAMPLED.labels(self.camera).set(float(fields["fps_sampled"]))  # type: ignore[arg-type]
        metrics.CAMERA_MOTION_BUSY.labels(self.camera).set(1.0 if fields["motion"] == "busy" else 0.0)
        for key, counter in (
            ("decoded", metrics.CAMERA_FRAMES_DECODED),
            ("detected", metrics.CAMERA_FRAMES_DETECTED),
            ("sampled", metrics.CAMERA_FRAMES_SAMPLED),
            ("with_motion", metrics.CAMERA_FRAMES_MOTION),
            ("skipped_still", metrics.CAMERA_FRAMES_STILL),
            ("drops", metrics.CAMERA_FRAMES_DROPPED),
            ("corrupt_packets", metrics.CAMERA_CORRUPT_PACKETS),
        ):
            if key not in fields:
                continue  # no motion gate on this camera
            total = int(fields[key])  # type: ignore[call-overload]
            grown = total - self._counted.get(key, 0)
            if grown > 0:
                counter.labels(self.camera).inc(grown)
                self._counted[key] = total
