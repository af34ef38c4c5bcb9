"""Which alerts an output takes (its `filter:`), and the cooldowns that thin out what passed."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

from streamer.alerts.payload import AlertPayload
from streamer.config.integrations import AlertFilter

RISK_ORDER = {"low": 0, "medium": 1, "high": 2, "critical": 3}


def passes(alert: AlertPayload, rule: AlertFilter) -> bool:
    if rule.cameras and alert.camera not in rule.cameras:
        return False
    if rule.types and alert.type not in rule.types:
        return False
    if alert.state not in rule.states:
        return False
    if rule.verification and alert.verification not in rule.verification:
        return False
    if rule.min_risk is not None:
        risk = alert.risk_level
        if risk not in RISK_ORDER or RISK_ORDER[risk] < RISK_ORDER[rule.min_risk]:
            return False
    return True


class Cooldown:
    """At most one delivery per key every `seconds`; keys older than that are forgotten, so memory stays bounded
    however many events come and go."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self.clock = clock
        self._last: dict[Hashable, float] = {}

    def allows(self, key: Hashable) -> bool:
        if self.seconds <= 0:
            return True
        now = self.clock()
        last = self._last.get(key)
        return last is None or now - last >= self.seconds

    def delivered(self, key: Hashable) -> None:
        if self.seconds <= 0:
            return
        now = self.clock()
        self._last[key] = now
        if len(self._last) > 1024:
            self._last = {k: t for k, t in self._last.items() if now - t < self.seconds}
