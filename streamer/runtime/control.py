"""What the supervisor tells a running worker, one way, over a queue of its own: take a reloaded config in place
(its zones, rules and motion masks changed, nothing that needs the source or the models opened again), or why it
is about to be stopped (said just before SIGTERM, so the events it ends carry the reason)."""

from __future__ import annotations

import queue
from dataclasses import dataclass
from multiprocessing.queues import Queue

from streamer.config.cameras import CameraConfig


@dataclass(frozen=True)
class Reconfigure:
    camera: CameraConfig
    keys: tuple[str, ...]  # what changed, for the log


@dataclass(frozen=True)
class StopReason:
    reason: str


Control = Reconfigure | StopReason


class ControlInbox:
    """The worker's end: `take` never blocks (the detect loop calls it between frames)."""

    def __init__(self, inbox: Queue | None):
        self.inbox = inbox

    def take(self, wait_s: float = 0.0) -> list[Control]:
        found: list[Control] = []
        if self.inbox is None:
            return found
        while True:
            try:
                found.append(self.inbox.get(timeout=wait_s) if wait_s and not found else self.inbox.get_nowait())
            except (queue.Empty, OSError, ValueError, EOFError):
                return found
