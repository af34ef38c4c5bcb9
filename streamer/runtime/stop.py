"""A stop flag that a signal handler may set safely."""

from __future__ import annotations

import time


class SignalStop:
    """Set from a signal handler, read by threads. threading.Event and mp.Event take a lock in set(), which
    deadlocks when the signal lands while this thread holds that lock; a plain attribute write cannot."""

    _POLL_S = 0.05

    def __init__(self) -> None:
        self._stopped = False

    def set(self, *_: object) -> None:
        self._stopped = True

    def is_set(self) -> bool:
        return self._stopped

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._stopped:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            time.sleep(self._POLL_S if remaining is None else min(self._POLL_S, remaining))
        return True
