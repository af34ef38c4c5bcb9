"""Login attempts: at most `max_failures` wrong passwords for one key (a user name, an address, a device) within
`window_s`; further attempts are refused until the oldest failure leaves the window (the response says how long).

An attempt is counted when it begins, before its password is checked, and forgiven only when the password was
right: forty guesses sent at once are five checks and thirty-five refusals, not forty checks that all passed the
limit while the first ones were still hashing."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

MAX_KEYS = 10_000


class LoginLimiter:
    def __init__(self, max_failures: int = 5, window_s: float = 300.0):
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def retry_after(self, keys: tuple[str, ...], now: float | None = None) -> float:
        """Seconds to wait before another attempt for these keys (0: go ahead)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return self._wait(keys, now)

    def begin(self, keys: tuple[str, ...], now: float | None = None) -> float:
        """Count an attempt for these keys as a failure until `succeeded` says otherwise; the seconds to wait
        instead when one of the keys has no attempt left (nothing is counted then)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            wait = self._wait(keys, now)
            if wait <= 0:
                self._count(keys, now)
            return wait

    def failed(self, keys: tuple[str, ...], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._count(keys, now)

    def succeeded(self, keys: tuple[str, ...]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

    def _wait(self, keys: tuple[str, ...], now: float) -> float:
        waits = []
        for key in keys:
            failures = self._failures.get(key)
            if not failures:
                continue
            while failures and now - failures[0] > self.window_s:
                failures.popleft()
            if len(failures) >= self.max_failures:
                waits.append(self.window_s - (now - failures[0]))
        return max(waits, default=0.0)

    def _count(self, keys: tuple[str, ...], now: float) -> None:
        if len(self._failures) > MAX_KEYS:  # a flood of made-up names must not grow this without bound
            for key in [k for k, times in self._failures.items() if not times or now - times[-1] > self.window_s]:
                del self._failures[key]
        for key in keys:
            self._failures[key].append(now)
