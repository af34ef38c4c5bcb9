"""The lifecycle of a stream connection, with the transitions it may take."""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from streamer.core.lifecycle import Transitions

log = logging.getLogger("streamer.source")


class SourceState(str, enum.Enum):
    CONNECTING = "connecting"
    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"  # ended on purpose: stop requested or a file played to its end
    FAILED = "failed"  # gave up: the reason says why

    @property
    def is_final(self) -> bool:
        """Nothing may follow it (its transition table says so)."""
        return SOURCE_TRANSITIONS.final(self)


SOURCE_TRANSITIONS: Transitions[SourceState] = Transitions(
    "source",
    {
        None: {SourceState.CONNECTING},
        SourceState.CONNECTING: {
            SourceState.STREAMING,
            SourceState.RECONNECTING,
            SourceState.STOPPED,
            SourceState.FAILED,
        },
        SourceState.STREAMING: {SourceState.RECONNECTING, SourceState.STOPPED, SourceState.FAILED},
        SourceState.RECONNECTING: {SourceState.CONNECTING, SourceState.STOPPED, SourceState.FAILED},
        SourceState.STOPPED: set(),
        SourceState.FAILED: set(),
    },
)


@dataclass(frozen=True)
class StateChange:
    camera: str
    previous: SourceState | None
    state: SourceState
    reason: str
    ts: float


StateListener = Callable[[StateChange], None]


class SourceStateMachine:
    def __init__(self, camera: str, listener: StateListener | None = None):
        self.camera = camera
        self.state: SourceState | None = None
        self.reason = ""
        self._listener = listener

    def fail(self, reason: str) -> None:
        """The camera cannot run at all (its model will not load): failed, whatever the source was doing, unless
        it failed on its own already (that reason stands)."""
        if self.state is not SourceState.FAILED:  # from STOPPED too: a short file may play out while a model loads
            self._change(SourceState.FAILED, reason)

    def to(self, state: SourceState, reason: str = "") -> None:
        SOURCE_TRANSITIONS.check(self.state, state, self.camera)
        self._change(state, reason)

    def _change(self, state: SourceState, reason: str) -> None:
        change = StateChange(self.camera, self.state, state, reason, time.time())
        self.state, self.reason = state, reason
        level = logging.ERROR if state is SourceState.FAILED else logging.INFO
        if state is SourceState.RECONNECTING:
            level = logging.WARNING
        log.log(
            level, "source state", extra={"fields": {"camera": self.camera, "state": state.value, "reason": reason}}
        )
        if self._listener is not None:
            self._listener(change)
