"""What the supervisor's camera workers and the engine host's engines share: a child process held in a slot with
a checked lifecycle (streamer/core/lifecycle.py), found dead, restarted after a backoff, and stopped together
(SIGTERM, one grace for all, then SIGKILL). Each holder keeps its own phases and what it does around them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import ClassVar

from streamer.core.backoff import Backoff
from streamer.core.lifecycle import Transitions

log = logging.getLogger("streamer.processes")


@dataclass(kw_only=True)
class ProcessSlot:
    TRANSITIONS: ClassVar[Transitions]  # the holder's phases and the moves between them

    process: BaseProcess | None = None
    phase: object = None  # the holder's phase enum (None: not started yet)
    restarts: int = 0
    restart_at: float = 0.0
    started_at: float = 0.0
    backoff: Backoff = field(default_factory=lambda: Backoff(1.0, 60.0))

    @property
    def label(self) -> str:
        """Who it is, in errors and logs (a camera, a device)."""
        raise NotImplementedError

    def move(self, phase) -> None:
        self.TRANSITIONS.check(self.phase, phase, self.label)
        self.phase = phase

    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    def died(self) -> bool:
        """Started, and its process is gone."""
        return self.process is not None and not self.process.is_alive()

    def plan_restart(self, now: float, healthy_run_s: float | None = None) -> float:
        """The delay before it starts again; a crash after a long healthy run starts the backoff afresh."""
        if healthy_run_s is not None and now - self.started_at > healthy_run_s:
            self.backoff.reset()
        delay = self.backoff.next_delay()
        self.restart_at = now + delay
        return delay


def stop_processes(
    processes: Iterable[BaseProcess], grace_s: float, on_kill: Callable[[BaseProcess], None] | None = None
) -> list[BaseProcess]:
    """SIGTERM to every live one, then one grace for all of them together, then SIGKILL for any still alive;
    the processes that were alive, so the caller can account for them."""
    live = [process for process in processes if process.is_alive()]
    for process in live:
        process.terminate()
    deadline = time.monotonic() + grace_s
    for process in live:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in live:
        if process.is_alive():
            if on_kill is not None:
                on_kill(process)
            process.kill()
            process.join(1.0)
    return live
