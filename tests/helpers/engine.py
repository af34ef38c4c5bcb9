"""A real engine process (EngineHost, as `streamer run` starts it) serving camera workers that run in threads of
the test, so the test sees every tracked frame they produce."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from streamer.config import CameraConfig
from streamer.config.engine import EngineConfig
from streamer.engine.host import EngineHost
from streamer.frame import TrackedFrame
from streamer.runtime.worker import CameraWorker, WorkerOptions


class Collect:
    """A worker sink that keeps every tracked frame."""

    def __init__(self) -> None:
        self.frames: list[TrackedFrame] = []

    def __call__(self, tracked: TrackedFrame) -> None:
        self.frames.append(tracked)

    def close(self) -> None:
        pass


@dataclass
class WorkerThread:
    worker: CameraWorker
    sink: Collect
    thread: threading.Thread
    code: list[int] = field(default_factory=list)

    @property
    def frames(self) -> list[TrackedFrame]:
        return self.sink.frames


def start_workers(
    host: EngineHost, cameras: Mapping[str, CameraConfig], models_dir: Path, stop: threading.Event
) -> dict[str, WorkerThread]:
    running = {}
    for name, camera in cameras.items():
        sink = Collect()
        worker = CameraWorker(
            name, camera, WorkerOptions(models_dir, stats_interval_s=1.0), stop, sinks=[sink], engine=host.link(name)
        )
        holder = WorkerThread(worker, sink, threading.Thread(daemon=True))
        holder.thread = threading.Thread(
            target=lambda h=holder: h.code.append(h.worker.run()), name=f"worker-{name}", daemon=True
        )
        holder.thread.start()
        running[name] = holder
    return running


def engine_host(cameras: Mapping[str, CameraConfig], models_dir: Path, **engine: object) -> EngineHost:
    return EngineHost(cameras, EngineConfig(**engine), models_dir, ("info", "text"), 1.0)


class Supervising:
    """Calls host.check() as the supervisor's loop does, so a dead engine is restarted."""

    def __init__(self, host: EngineHost):
        self.host = host
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop.wait(0.1):
            self.host.check()

    def __enter__(self) -> "Supervising":
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(5)
