"""The bounded hand-off between decode and detection, with a stated policy when it is full."""

from __future__ import annotations

import enum
import threading
from collections import deque

from streamer.frame import Frame


class DropPolicy(str, enum.Enum):
    DROP_OLDEST = "drop_oldest"  # live: stale frames are worth less than fresh ones; never stall the camera
    BLOCK = "block"  # files: every frame matters and the decoder can simply wait


class FrameQueue:
    def __init__(self, maxsize: int, policy: DropPolicy):
        self.maxsize = maxsize
        self.policy = policy
        self.dropped = 0
        self._items: deque[Frame] = deque()
        self._closed = False
        self._cond = threading.Condition()

    def put(self, frame: Frame, abort: threading.Event | None = None) -> bool:
        """Queue a frame; False when the queue was closed (or `abort` set) before it fitted."""
        with self._cond:
            while self.policy is DropPolicy.BLOCK and len(self._items) >= self.maxsize and not self._closed:
                if abort is not None and abort.is_set():
                    return False
                self._cond.wait(0.1)
            if self._closed:
                return False
            if len(self._items) >= self.maxsize:
                self._items.popleft()
                self.dropped += 1
            self._items.append(frame)
            self._cond.notify_all()
            return True

    def get_batch(self, max_items: int, timeout: float) -> list[Frame] | None:
        """Up to `max_items` frames, oldest first; [] on timeout; None once closed and drained."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(timeout)
            if not self._items:
                return None if self._closed else []
            batch = [self._items.popleft() for _ in range(min(max_items, len(self._items)))]
            self._cond.notify_all()
            return batch

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
