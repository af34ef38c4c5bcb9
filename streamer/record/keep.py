"""Which segments `events` mode keeps: those that overlap an event widened by the pre- and post-roll."""

from __future__ import annotations

import threading


class EventWindows:
    """Fed by the event stage (another thread), read by the recorder. A segment can only be judged once no
    event that starts later could still reach back into it through the pre-roll."""

    def __init__(self, pre_roll_s: float, post_roll_s: float):
        self.pre_roll_s = pre_roll_s
        self.post_roll_s = post_roll_s
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, float | None]] = {}

    def opened(self, event_id: str, start_ts: float) -> None:
        with self._lock:
            self._windows.setdefault(event_id, (start_ts, None))

    def closed(self, event_id: str, start_ts: float, end_ts: float) -> None:
        with self._lock:
            self._windows[event_id] = (start_ts, end_ts)

    def decide(self, seg_start: float, seg_end: float, now_ts: float) -> bool | None:
        """True: keep; False: delete; None: not yet known (an event starting soon could still need it)."""
        with self._lock:
            windows = list(self._windows.values())
        for start, end in windows:
            if start - self.pre_roll_s < seg_end and (end is None or end + self.post_roll_s > seg_start):
                return True
        if now_ts - self.pre_roll_s < seg_end:
            return None
        return False

    def forget_before(self, ts: float) -> None:
        with self._lock:
            for event_id, (_, end) in list(self._windows.items()):
                if end is not None and end + self.post_roll_s < ts:
                    del self._windows[event_id]
