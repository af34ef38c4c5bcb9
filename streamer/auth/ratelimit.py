"""Login attempts: after `max_failures` wrong passwords for one user name or from one address within `window_s`,
further attempts are refused until the oldest failure leaves the window (the response says how long)."""

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

    def failed(self, keys: tuple[str, ...], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._failures) > MAX_KEYS:  # a flood of made-up names must not grow this without bound
                for key in [k for k, times in self._failures.items() if not times or now - times[-1] > self.window_s]:
                    del self._failures[key]
            for key in keys:
                self._failures[key].append(now)

    def succeeded(self, keys: tuple[str, ...]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
