"""Time helpers of the source: PTS sampling, wall-clock anchoring, reconnect backoff."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


class FpsSampler:
    """Keeps frames whose PTS reach the next due time, so the kept rate is the detect fps on average
    whatever the stream's (variable) frame rate; frames it rejects are never converted to pixels."""

    _EPSILON_S = 1e-4  # float PTS of a frame exactly on the grid must not be skipped

    def __init__(self, fps: float):
        self.interval = 1.0 / fps
        self._next_due: float | None = None
        self._last_pts: float | None = None

    def take(self, pts_s: float) -> bool:
        backwards = self._last_pts is not None and pts_s < self._last_pts
        self._last_pts = pts_s
        if self._next_due is None or backwards:
            self._next_due = pts_s + self.interval
            return True
        if pts_s + self._EPSILON_S < self._next_due:
            return False
        # after a gap, restart the grid at this frame instead of bursting to catch up
        behind = pts_s - self._next_due >= self.interval
        self._next_due = (pts_s if behind else self._next_due) + self.interval
        return True


@dataclass
class LiveClock:
    """Receive time anchored once per connection, then advanced by PTS so network jitter does not bend time."""

    anchor_wall: float | None = None
    anchor_pts: float = 0.0

    def wall_ts(self, pts_s: float, received_at: float) -> float:
        if self.anchor_wall is None:
            self.anchor_wall, self.anchor_pts = received_at, pts_s
        return self.anchor_wall + (pts_s - self.anchor_pts)


@dataclass
class FileClock:
    """Configured (or tagged) start time of the recording plus the frame's PTS from the stream start;
    each loop of the file continues where the previous one ended."""

    start_ts: float
    origin_pts: float = 0.0
    loop_offset_s: float = 0.0

    def wall_ts(self, pts_s: float, received_at: float = 0.0) -> float:
        return self.start_ts + self.loop_offset_s + (pts_s - self.origin_pts)


@dataclass
class Backoff:
    """Exponential backoff with equal jitter: half the delay fixed, half random, so cameras do not reconnect in step."""

    initial_s: float
    maximum_s: float
    attempt: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self) -> float:
        ceiling = min(self.maximum_s, self.initial_s * (2**self.attempt))
        self.attempt += 1
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.attempt = 0
