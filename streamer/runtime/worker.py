"""One camera's live path inside its worker process: decode thread → bounded queue → detect → track → sinks."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from streamer.config.cameras import CameraConfig, SourceKind
from streamer.detect.tracker import CameraTracker
from streamer.detect.weights import WeightsNotFound
from streamer.engine.client import RemoteDetection
from streamer.engine.errors import ModelLoadError
from streamer.engine.geometry import camera_geometry
from streamer.engine.protocol import EngineLink
from streamer.engine.settings import LoadSettings
from streamer.engine.stage import DetectedFrame, DetectionStage
from streamer.events.sinks import FrameSink, Reconfigurable, SinkGuard, StopNoted
from streamer.frame import TrackedFrame
from streamer.record.annotated_writer import AnnotatedVideoWriter
from streamer.record.recorder import Recorder
from streamer.runtime.control import ControlInbox, Reconfigure
from streamer.runtime.frame_queue import DropPolicy, FrameQueue
from streamer.runtime.gate import GatedDetection, MotionGate
from streamer.runtime.options import EXIT_CAMERA_FAILED, EXIT_CRASHED, EXIT_OK, WorkerOptions
from streamer.runtime.stats import CameraStats
from streamer.source.packets import PacketTap, PacketTaps
from streamer.source.reader import VideoSource
from streamer.source.state import SourceState, StateListener

log = logging.getLogger("streamer.worker")

READER_JOIN_S = 3.0  # a live read blocks at most read_timeout_s; a stop must not wait that long


class StopFlag(Protocol):
    def is_set(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...


def detection_stage(
    name: str, camera: CameraConfig, options: WorkerOptions, stop: StopFlag, link: EngineLink | None
) -> DetectionStage:
    """The shared engine when the supervisor made one (`link`), else the models in this process."""
    if link is not None:
        return RemoteDetection(name, camera, options.models_dir, link, stop, live=camera.kind is SourceKind.LIVE)
    from streamer.engine.host import resolve_device
    from streamer.engine.local import LocalDetection  # the models in this process: torch only here

    settings = LoadSettings(
        resolve_device(camera.detect.device),
        options.models_dir / "cache",
        options.max_batch,
        camera_geometry(camera).largest,
        None,
    )
    return LocalDetection(camera, options.models_dir, settings)


class CameraWorker:
    def __init__(
        self,
        name: str,
        camera: CameraConfig,
        options: WorkerOptions,
        stop: StopFlag,
        on_state: StateListener | None = None,
        sinks: Sequence[FrameSink] = (),
        recorder: Recorder | None = None,
        engine: EngineLink | None = None,
        on_stats: Callable[[dict], None] | None = None,
        packet_taps: Sequence[PacketTap] = (),
        controls: ControlInbox | None = None,
    ):
        self.name = name
        self.camera = camera
        self.options = options
        self.stop = stop
        self.recorder = recorder
        taps = [recorder, *packet_taps] if recorder is not None else list(packet_taps)
        tap = taps[0] if len(taps) == 1 else PacketTaps(taps) if taps else None  # the recorder, the live video
        self.source = VideoSource(name, camera, stop, on_state, packet_tap=tap)  # type: ignore[arg-type]
        policy = DropPolicy.DROP_OLDEST if camera.kind is SourceKind.LIVE else DropPolicy.BLOCK
        self.queue = FrameQueue(camera.connection.queue_size, policy)
        self.guard = SinkGuard(name)  # every call to a sink on its own: one that raises does not stop the camera
        writer = self._annotated_writer()
        self.sinks = ([writer] if writer is not None else []) + list(sinks)
        self.controls = controls or ControlInbox(None)
        self._stop_reason: str | None = None
        self.tracker = CameraTracker(camera.tracker, camera.detect.fps)
        detection = detection_stage(name, camera, options, stop, engine)
        self.gate: MotionGate | None = None
        if camera.detect.motion.enabled:
            self.gate = MotionGate(camera, self.tracker.has_tracks)
            detection = GatedDetection(detection, self.gate, tuple(camera.detect.extra_models))
        self.detection = detection
        self.stats = CameraStats(name, options.stats_interval_s, on_log=on_stats, gate=self.gate)
        self.decode_crashed = False
        self._aborted = False  # the models cannot run: the source's own ending no longer matters
        self._frame_size: tuple[int, int] | None = None

    def run(self) -> int:
        """The source opens while the models load (in the engine or here), so a bad URL or file is reported in
        seconds, not after the load; frames decoded meanwhile wait in the queue (a live camera's oldest drop)."""
        fields = {"camera": self.name}
        reader = threading.Thread(target=self._read, name=f"decode-{self.name}", daemon=True)
        reader.start()
        try:
            self.detection.start()
        except (ModelLoadError, WeightsNotFound) as error:
            log.error("camera cannot start: %s", error, extra={"fields": fields})
            self._aborted = True
            self.queue.close()
            reader.join(READER_JOIN_S)
            self.source.state.fail(str(error))
            self.detection.close()
            self._close_sinks()
            return EXIT_CAMERA_FAILED
        try:
            self._detect_loop()
        finally:
            self.queue.close()
            if self.stop.is_set() and self._stop_reason is None:  # said just before the SIGTERM that stopped it
                self._follow_controls(wait_s=0.3)
            self.stats.maybe_log(self.source, self.queue, self.detection, force=True)
            reader.join(READER_JOIN_S)
            self.detection.close()
            self._close_sinks()
        if self.decode_crashed:
            return EXIT_CRASHED
        return EXIT_CAMERA_FAILED if self.source.state.state is SourceState.FAILED else EXIT_OK

    def _close_sinks(self) -> None:
        if self.recorder is not None:  # first: the event clips wait for its last segment
            self.recorder.close()
        for sink in self.sinks:
            self.guard.call(sink, sink.close)

    def _read(self) -> None:
        try:
            for frame in self.source.frames():
                if not self.queue.put(frame, abort=self.stop):  # type: ignore[arg-type]
                    break
        except Exception:  # a bug in decoding must end this worker visibly (and get it restarted), not look finished
            if self._aborted:
                return  # still opening when the camera was given up: its late transition is moot
            self.decode_crashed = True
            log.exception("decode thread crashed", extra={"fields": {"camera": self.name}})
        finally:
            self.queue.close()

    def _detect_loop(self) -> None:
        """Keep up to the stage's free slots handed over while answers come back, so decode, the engine and
        tracking overlap; answers arrive in frame order."""
        detection = self.detection
        while not self.stop.is_set():
            free = detection.free()
            if free:
                batch = self.queue.get_batch(free, timeout=0.0 if detection.inflight else 0.2)
                if batch is None and not detection.inflight:
                    return  # played and every answer in
                for frame in batch or ():
                    detection.submit(frame)
            for detected in detection.collect(timeout=0.02 if free else 0.2):
                self._track(detected)
            self.stats.maybe_log(self.source, self.queue, detection)
            self._follow_controls()

    def _follow_controls(self, wait_s: float = 0.0) -> None:
        """Between frames, on the thread the sinks run on: nothing else touches the rules while they change."""
        for control in self.controls.take(wait_s):
            if isinstance(control, Reconfigure):
                self._reconfigure(control)
            else:
                self._stop_reason = control.reason
                for sink in self.sinks:
                    if isinstance(sink, StopNoted):
                        self.guard.call(sink, sink.note_stop, control.reason)

    def _reconfigure(self, control: Reconfigure) -> None:
        self.camera = control.camera
        self._frame_size = None  # its points are checked against the frame again
        if self.gate is not None:
            self.gate.reconfigure(control.camera)
        for sink in self.sinks:
            if isinstance(sink, Reconfigurable):
                self.guard.call(sink, sink.reconfigure, control.camera)
        log.info("config applied in place", extra={"fields": {"camera": self.name, "keys": list(control.keys)}})

    def _track(self, detected: DetectedFrame) -> None:
        frame = detected.frame
        if self._frame_size != (frame.width, frame.height):
            self._check_geometry(frame.width, frame.height)
        tracks = self.tracker.update(detected.detections)
        tracked = TrackedFrame(frame, tracks, detected.extra)
        self.stats.record(tracked, detected.latency_ms, detected.ran)
        for sink in self.sinks:
            self.guard.call(sink, sink, tracked)

    def _check_geometry(self, width: int, height: int) -> None:
        self._frame_size = (width, height)
        outside = self.camera.points_outside(width, height)
        if outside:
            log.warning(
                "%s reach outside the %dx%d frame; check their points",
                ", ".join(outside),
                width,
                height,
                extra={"fields": {"camera": self.name}},
            )

    def _annotated_writer(self) -> AnnotatedVideoWriter | None:
        if self.options.save_annotated is None:
            return None
        path = self.options.save_annotated / f"{self.name}.mp4"
        return AnnotatedVideoWriter(path, dict(self.camera.zones), self.camera.detect.fps, self.name)


__all__ = ["EXIT_CAMERA_FAILED", "EXIT_CRASHED", "EXIT_OK", "CameraWorker", "WorkerOptions", "detection_stage"]
