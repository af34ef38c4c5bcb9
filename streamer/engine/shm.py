"""A camera's shared-memory slots: created and unlinked by the supervisor (so a killed worker or engine leaves
nothing behind and a restarted worker finds its slots again), attached by the worker and by the engine."""

from __future__ import annotations

import os
import re
import secrets
from multiprocessing import shared_memory
from pathlib import Path

import numpy as np

NAME_PREFIX = "streamer-"
_OWNED = re.compile(rf"^{NAME_PREFIX}(\d+)-")
SHM_DIR = Path("/dev/shm")


def sweep_orphans(folder: Path = SHM_DIR) -> list[str]:
    """Unlink the segments of a supervisor that no longer exists: one killed together with its whole process group
    (its resource tracker too) had no one left to do it. Returns the names removed."""
    removed = []
    try:
        names = [entry.name for entry in folder.iterdir()]
    except OSError:
        return removed
    for name in names:
        match = _OWNED.match(name)
        if match is None or _alive(int(match.group(1))):
            continue
        try:
            (folder / name).unlink()
            removed.append(name)
        except OSError:
            pass
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


class SlotSegment:
    def __init__(self, segment: shared_memory.SharedMemory, slot_bytes: int, slots: int, owner: bool):
        self.segment = segment
        self.slot_bytes = slot_bytes
        self.slots = slots
        self.owner = owner

    @property
    def name(self) -> str:
        return self.segment.name

    @classmethod
    def create(cls, camera: str, slot_bytes: int, slots: int) -> "SlotSegment":
        name = f"{NAME_PREFIX}{os.getpid()}-{camera}-{secrets.token_hex(3)}"
        return cls(shared_memory.SharedMemory(name, create=True, size=slot_bytes * slots), slot_bytes, slots, True)

    @classmethod
    def attach(cls, name: str, slot_bytes: int, slots: int) -> "SlotSegment":
        # Python 3.11 registers an attached segment with the resource tracker too. Workers and engines are spawned by
        # the supervisor and share its tracker, which keeps one entry per name: the second registration changes
        # nothing, and the tracker unlinks the segment only if the supervisor dies without doing it itself.
        segment = shared_memory.SharedMemory(name)
        return cls(segment, slot_bytes, slots, False)

    def view(self, slot: int, shape: tuple[int, int]) -> np.ndarray:
        height, width = shape
        if not 0 <= slot < self.slots or height * width * 3 > self.slot_bytes:
            raise ValueError(f"slot {slot} cannot hold a {height}x{width} image")
        return np.ndarray((height, width, 3), dtype=np.uint8, buffer=self.segment.buf, offset=slot * self.slot_bytes)

    def close(self) -> None:
        try:
            self.segment.close()
        except BufferError:  # a view still exported; the mapping goes with the process
            pass
        if self.owner:
            try:
                self.segment.unlink()
            except FileNotFoundError:
                pass
