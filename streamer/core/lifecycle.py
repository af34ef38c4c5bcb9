"""Every lifecycle in one vocabulary: its states are an enum, the moves it may make a table of this type, and each
move is checked against the table, so a state can only change the way the design says (docs/architecture.md,
"Lifecycles"). `None` stands for "not started yet" (or "not held at all") where a lifecycle has such a state."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Generic, TypeVar

S = TypeVar("S", bound=enum.Enum)


class InvalidTransition(RuntimeError):
    """A move the table does not allow: a bug in the code that moved it, never bad input."""


class Transitions(Generic[S]):
    def __init__(self, name: str, allowed: Mapping[S | None, Iterable[S | None]]):
        self.name = name
        self._allowed = {state: frozenset(following) for state, following in allowed.items()}

    def allows(self, current: S | None, new: S | None) -> bool:
        return new in self._allowed.get(current, frozenset())

    def check(self, current: S | None, new: S | None, who: str = "") -> None:
        if not self.allows(current, new):
            where = f"{self.name} {who}".strip()
            raise InvalidTransition(f"{where}: {_named(current)} → {_named(new)} is not allowed")

    def final(self, state: S | None) -> bool:
        """True for a state nothing may follow."""
        return not self._allowed.get(state)


def _named(state: enum.Enum | None) -> str:
    return "(none)" if state is None else str(state.value)
