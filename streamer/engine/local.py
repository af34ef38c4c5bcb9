"""The engine's models inside the worker itself (`engine.mode: in_process`): one camera, tests, debugging."""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path

from streamer.config.cameras import CameraConfig
from streamer.engine.batch import BoundUse, FrameJob, bind_uses, run_batch
from streamer.engine.geometry import camera_geometry
from streamer.engine.models import LoadSettings, ModelRegistry
from streamer.engine.stage import DetectedFrame, detected_frame, model_uses
from streamer.frame import Frame


class LocalDetection:
    def __init__(self, camera: CameraConfig, models_dir: Path, settings: LoadSettings):
        self.camera = camera
        self.models_dir = models_dir
        self.registry = ModelRegistry(settings)
        self.geometry = camera_geometry(camera)
        self.max_batch = settings.max_batch
        self.uses: list[BoundUse] = []
        self._waiting: deque[tuple[Frame, float]] = deque()
        self.dropped = 0

    @property
    def inflight(self) -> int:
        return len(self._waiting)

    def start(self) -> None:
        self.uses = bind_uses(model_uses(self.camera, self.models_dir), self.registry)
        warm = self.geometry.letterbox(_blank())
        run_batch([FrameJob(warm, (480, 640), self.uses)])  # first call builds kernels: not the first frame's latency

    def free(self) -> int:
        return self.max_batch - len(self._waiting)

    def submit(self, frame: Frame) -> None:
        self._waiting.append((frame, time.perf_counter()))

    def collect(self, timeout: float) -> list[DetectedFrame]:
        if not self._waiting:
            return []
        taken = [self._waiting.popleft() for _ in range(len(self._waiting))]
        jobs = [
            FrameJob(self.geometry.letterbox(frame.image), (frame.height, frame.width), self.uses) for frame, _ in taken
        ]
        results = run_batch(jobs)
        done = time.perf_counter()
        names = {use.name: use.model.names for use in self.uses}
        return [
            detected_frame(frame, boxes, names, (done - handed) * 1000)
            for (frame, handed), boxes in zip(taken, results)
        ]

    def close(self) -> None:
        pass


def _blank():
    import numpy as np

    return np.zeros((480, 640, 3), dtype=np.uint8)
