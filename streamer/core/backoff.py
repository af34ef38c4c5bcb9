"""Retry delays for anything that reconnects: cameras, Redis, the engine, the VLM server."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Exponential backoff with equal jitter: half the delay fixed, half random, so cameras do not reconnect in step."""

    initial_s: float
    maximum_s: float
    attempt: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self) -> float:
        ceiling = min(self.maximum_s, self.initial_s * (2**self.attempt))
        if ceiling < self.maximum_s:  # past the cap the exponent has nothing left to do (and 2**1024 overflows)
            self.attempt += 1
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.attempt = 0
