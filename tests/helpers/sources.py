"""Drive a VideoSource in the test thread and collect what it produced."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from streamer.config import CameraConfig
from streamer.frame import Frame
from streamer.source.reader import VideoSource
from streamer.source.state import StateChange


@dataclass
class Collected:
    frames: list[Frame] = field(default_factory=list)
    changes: list[StateChange] = field(default_factory=list)
    source: VideoSource | None = None

    @property
    def states(self) -> list[str]:
        return [change.state.value for change in self.changes]


def camera(url: str, **fields: object) -> CameraConfig:
    return CameraConfig.model_validate({"url": url, **fields})


def play(cam: CameraConfig, max_frames: int | None = None, stop: threading.Event | None = None) -> Collected:
    stop = stop or threading.Event()
    collected = Collected()
    collected.source = VideoSource("test", cam, stop, on_state=collected.changes.append)
    for frame in collected.source.frames():
        collected.frames.append(frame)
        if max_frames is not None and len(collected.frames) >= max_frames:
            stop.set()
    return collected
