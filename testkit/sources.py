"""Drive a VideoSource, in the test thread or in a thread of its own, and keep everything it produced."""

from __future__ import annotations

import threading
from collections.abc import Callable

from streamer.config import CameraConfig
from streamer.frame import Frame
from streamer.source.reader import VideoSource
from streamer.source.state import StateChange
from testkit.waiting import wait_until


def camera(url: str, **fields: object) -> CameraConfig:
    return CameraConfig.model_validate({"url": url, **fields})


class Recorder:
    """Consumes `source.frames()` as the worker's decode thread would, recording frames and state changes."""

    def __init__(self, cam: CameraConfig, name: str = "test"):
        self.stop = threading.Event()
        self.frames: list[Frame] = []
        self.changes: list[StateChange] = []
        self.source = VideoSource(name, cam, self.stop, on_state=self.changes.append)
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self, max_frames: int | None = None) -> "Recorder":
        for frame in self.source.frames():
            self.frames.append(frame)
            if max_frames is not None and len(self.frames) >= max_frames:
                self.stop.set()
        return self

    def start(self) -> "Recorder":
        self.thread.start()
        return self

    def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        return wait_until(condition, timeout)

    @property
    def states(self) -> list[str]:
        return [change.state.value for change in self.changes]


def play(cam: CameraConfig, max_frames: int | None = None) -> Recorder:
    """Play a source to its end (or `max_frames`) in the test thread."""
    return Recorder(cam).run(max_frames)
