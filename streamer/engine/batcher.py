"""Which frames go into the next inference call: round-robin across cameras (one fast camera cannot starve the
others), up to `max_batch`, and no later than `max_wait_ms` after the oldest arrived, the way Triton's dynamic
batcher waits. A batch also goes at once when every frame the connected cameras may have in the engine is waiting:
nothing else can come."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")


@dataclass(frozen=True)
class Waiting(Generic[Item]):
    camera: str
    item: Item
    arrived: float  # monotonic seconds


class FairBatcher(Generic[Item]):
    def __init__(self, max_batch: int, max_wait_s: float):
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._queues: dict[str, deque[Waiting[Item]]] = {}
        self._turn = 0  # which camera is first in the next round

    def add(self, camera: str, item: Item, now: float) -> None:
        self._queues.setdefault(camera, deque()).append(Waiting(camera, item, now))

    def forget(self, camera: str) -> list[Item]:
        """A camera that went away: its waiting frames, which will never be answered."""
        return [waiting.item for waiting in self._queues.pop(camera, deque())]

    def __len__(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

    def ready(self, now: float, capacity: int) -> bool:
        """`capacity`: how many frames the connected cameras may have in the engine at once (their slots)."""
        waiting = [queue for queue in self._queues.values() if queue]
        if not waiting:
            return False
        if sum(len(queue) for queue in waiting) >= min(self.max_batch, capacity):
            return True
        return now - min(queue[0].arrived for queue in waiting) >= self.max_wait_s

    def time_left(self, now: float) -> float | None:
        """Seconds until the oldest waiting frame's deadline; None when nothing waits."""
        heads = [queue[0].arrived for queue in self._queues.values() if queue]
        if not heads:
            return None
        return max(0.0, min(heads) + self.max_wait_s - now)

    def take(self) -> list[Waiting[Item]]:
        """Up to `max_batch` frames, one per camera per round; each camera's frames stay in their order."""
        cameras = [name for name, queue in self._queues.items() if queue]
        if not cameras:
            return []
        start = self._turn % len(cameras)
        order = cameras[start:] + cameras[:start]
        self._turn += 1
        batch: list[Waiting[Item]] = []
        while len(batch) < self.max_batch and any(self._queues[name] for name in order):
            for name in order:
                if self._queues[name] and len(batch) < self.max_batch:
                    batch.append(self._queues[name].popleft())
        return batch
