"""Whether one Redis connection is up, as its heartbeat and its real calls find it, and how long each outage lasted.

An outage starts at the first failed call or ping and ends at the first successful one. Checks run at least every
`heartbeat_s` while the connection is idle or down, so both ends are known to within one heartbeat: the length
reported is the true one, not the time until the next alert happened to need Redis.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from streamer.core.lifecycle import Transitions

log = logging.getLogger("streamer.redis")

STILL_DOWN_LOG_S = 60.0


class LinkState(str, enum.Enum):
    UNKNOWN = "unknown"  # no check yet
    UP = "up"
    DOWN = "down"


# every check says up or down again; only a change is reported
LINK_TRANSITIONS: Transitions[LinkState] = Transitions(
    "redis link",
    {
        LinkState.UNKNOWN: {LinkState.UP, LinkState.DOWN},
        LinkState.UP: {LinkState.UP, LinkState.DOWN},
        LinkState.DOWN: {LinkState.UP, LinkState.DOWN},
    },
)


@dataclass(frozen=True)
class LinkChange:
    """A transition: `down` when an outage starts (down_s None), `up` when it ends (down_s its length)."""

    who: str
    state: LinkState
    ts: float  # wall clock of the check that found it
    reason: str = ""
    down_s: float | None = None
    since_ts: float | None = None  # for `up`: when the outage started


LinkListener = Callable[[LinkChange], None]


class RedisLiveness:
    def __init__(self, who: str, heartbeat_s: float, on_change: LinkListener | None = None):
        self.who = who
        self.heartbeat_s = heartbeat_s
        self.on_change = on_change
        self._lock = threading.Lock()
        self.state = LinkState.UNKNOWN
        self.outages = 0
        self._down_since: tuple[float, float] | None = None  # (wall, monotonic) of the first failed check
        self._last_check = 0.0
        self._last_down_log = 0.0

    def _moved(self, state: LinkState) -> LinkState:
        LINK_TRANSITIONS.check(self.state, state, self.who)
        return state

    def check_due(self) -> bool:
        """True when nothing has talked to Redis for a heartbeat: time to ping."""
        return time.monotonic() - self._last_check >= self.heartbeat_s

    def succeeded(self) -> None:
        with self._lock:
            self._last_check = time.monotonic()
            previous, self.state = self.state, self._moved(LinkState.UP)
            if previous is not LinkState.DOWN or self._down_since is None:
                return
            since_wall, since_mono = self._down_since
            self._down_since = None
            change = LinkChange(
                self.who, LinkState.UP, time.time(), down_s=round(self._last_check - since_mono, 2), since_ts=since_wall
            )
        log.info("redis reachable again", extra={"fields": {"who": self.who, "down_s": change.down_s}})
        self._notify(change)

    def failed(self, reason: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._last_check = now
            previous, self.state = self.state, self._moved(LinkState.DOWN)
            if previous is LinkState.DOWN:
                if now - self._last_down_log >= STILL_DOWN_LOG_S:
                    self._last_down_log = now
                    log.warning(
                        "redis still unreachable: %s",
                        reason,
                        extra={
                            "fields": {
                                "who": self.who,
                                "down_s": round(now - self._down_since[1], 1) if self._down_since else None,
                            }
                        },
                    )
                return
            self._down_since, self._last_down_log = (time.time(), now), now
            self.outages += 1
            change = LinkChange(self.who, LinkState.DOWN, self._down_since[0], reason=reason)
        log.error("redis unreachable: %s", reason, extra={"fields": {"who": self.who}})
        self._notify(change)

    def _notify(self, change: LinkChange) -> None:
        if self.on_change is None:
            return
        try:
            self.on_change(change)
        except Exception:  # a listener's bug must not stop the heartbeat that found the change
            log.exception("redis state listener failed", extra={"fields": {"who": self.who}})
