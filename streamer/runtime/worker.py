"""One camera's live path inside its worker process: decode thread → bounded queue → detect → track → sinks."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from streamer.config.cameras import CameraConfig, SourceKind
from streamer.config.vlm import VlmConfig
from streamer.detect.detector import Detector, ModelLoadError, UltralyticsDetector
from streamer.detect.device import choose_device
from streamer.detect.tracker import CameraTracker
from streamer.detect.weights import WeightsNotFound
from streamer.frame import Frame, TrackedFrame
from streamer.record.recorder import Recorder
from streamer.runtime.annotated_writer import AnnotatedVideoWriter
from streamer.runtime.frame_queue import DropPolicy, FrameQueue
from streamer.runtime.stats import CameraStats
from streamer.source.reader import VideoSource
from streamer.source.state import SourceState, StateListener

log = logging.getLogger("streamer.worker")

EXIT_OK = 0
EXIT_CRASHED = 1  # a bug: the supervisor restarts the worker
EXIT_CAMERA_FAILED = 3
READER_JOIN_S = 3.0  # a live read blocks at most read_timeout_s; a stop must not wait that long  # the camera cannot work as configured (model, file): restarting the process will not help


class StopFlag(Protocol):
    def is_set(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...


class FrameSink(Protocol):
    def __call__(self, tracked: TrackedFrame) -> None: ...

    def close(self) -> None:
        """The stream is over (played, stopped or failed): finish what is open."""
        ...


@dataclass(frozen=True)
class WorkerOptions:
    models_dir: Path
    storage_dir: Path = Path("data")
    min_free_bytes: int = 1 << 30  # storage.min_free: below it the recorder pauses
    timezone: str = "UTC"
    stats_interval_s: float = 5.0
    save_annotated: Path | None = None
    max_batch: int = 4  # frames taken from the queue per detector call when detection falls behind
    vlm: VlmConfig | None = None  # events are sent to the VLM job queue when set


@dataclass
class CameraModels:
    detector: Detector
    extra: dict[str, Detector]
    tracker: CameraTracker

    @classmethod
    def load(cls, camera: CameraConfig, models_dir: Path) -> "CameraModels":
        device = choose_device(camera.detect.device)
        half = camera.detect.half
        detector = UltralyticsDetector(camera.detect.model, models_dir, device, half)
        extra = {key: UltralyticsDetector(spec, models_dir, device, half) for key, spec in camera.detect.extra_models.items()}
        for model in (detector, *extra.values()):
            model.warm_up()  # the first call builds the graph: keep it out of the first alert's latency
        log.info("models loaded", extra={"fields": {"model": detector.label, "device": device, "extra": ",".join(extra) or "-"}})
        return cls(detector, extra, CameraTracker(camera.tracker, camera.detect.fps))

    def process(self, frames: Sequence[Frame]) -> tuple[list[TrackedFrame], float]:
        """Detect on the whole batch at once, then track frame by frame in order; returns ms of detection per frame."""
        images = [frame.image for frame in frames]
        started = time.perf_counter()
        detections = self.detector.detect(images)
        extras = {key: detector.detect(images) for key, detector in self.extra.items()}
        detect_ms = (time.perf_counter() - started) * 1000 / len(frames)
        tracked = []
        for position, frame in enumerate(frames):
            tracks = self.tracker.update(detections[position], (frame.height, frame.width))
            tracked.append(TrackedFrame(frame, tracks, {key: found[position] for key, found in extras.items()}))
        return tracked, detect_ms


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
    ):
        self.name = name
        self.camera = camera
        self.options = options
        self.stop = stop
        self.recorder = recorder
        self.source = VideoSource(name, camera, stop, on_state, packet_tap=recorder)  # type: ignore[arg-type]
        policy = DropPolicy.DROP_OLDEST if camera.kind is SourceKind.LIVE else DropPolicy.BLOCK
        self.queue = FrameQueue(camera.connection.queue_size, policy)
        self.stats = CameraStats(name, options.stats_interval_s)
        self.sinks = list(sinks)
        self.models: CameraModels | None = None
        self.decode_crashed = False

    def run(self) -> int:
        fields = {"camera": self.name}
        try:
            self.models = CameraModels.load(self.camera, self.options.models_dir)
        except (ModelLoadError, WeightsNotFound) as error:
            log.error("camera cannot start: %s", error, extra={"fields": fields})
            self.source.state.to(SourceState.FAILED, str(error))
            self._close_sinks()
            return EXIT_CAMERA_FAILED
        writer = self._annotated_writer()
        reader = threading.Thread(target=self._read, name=f"decode-{self.name}", daemon=True)
        reader.start()
        try:
            self._detect_loop(writer)
        finally:
            if writer is not None:
                writer.close()
                log.info("annotated video written", extra={"fields": {**fields, "path": str(writer.path), "frames": writer.frames_written}})
            self.queue.close()
            self.stats.maybe_log(self.source, self.queue, force=True)
            reader.join(READER_JOIN_S)
            self._close_sinks()
        if self.decode_crashed:
            return EXIT_CRASHED
        return EXIT_CAMERA_FAILED if self.source.state.state is SourceState.FAILED else EXIT_OK

    def _close_sinks(self) -> None:
        if self.recorder is not None:  # first: the event clips wait for its last segment
            self.recorder.close()
        for sink in self.sinks:
            sink.close()

    def _read(self) -> None:
        try:
            for frame in self.source.frames():
                if not self.queue.put(frame, abort=self.stop):  # type: ignore[arg-type]
                    break
        except Exception:  # a bug in decoding must end this worker visibly (and get it restarted), not look finished
            self.decode_crashed = True
            log.exception("decode thread crashed", extra={"fields": {"camera": self.name}})
        finally:
            self.queue.close()

    def _detect_loop(self, writer: AnnotatedVideoWriter | None) -> None:
        assert self.models is not None
        while not self.stop.is_set():
            batch = self.queue.get_batch(self.options.max_batch, timeout=0.2)
            if batch is None:
                return
            if batch:
                tracked_frames, detect_ms = self.models.process(batch)
                for tracked in tracked_frames:
                    self.stats.record(tracked, detect_ms)
                    if writer is not None:
                        writer.write(tracked)
                    for sink in self.sinks:
                        sink(tracked)
            self.stats.maybe_log(self.source, self.queue)

    def _annotated_writer(self) -> AnnotatedVideoWriter | None:
        if self.options.save_annotated is None:
            return None
        path = self.options.save_annotated / f"{self.name}.mp4"
        return AnnotatedVideoWriter(path, dict(self.camera.zones), self.camera.detect.fps)

