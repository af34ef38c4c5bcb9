"""A camera's worker process as the supervisor holds it: its phase, restarts and backoff, the queues to and from it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from typing import ClassVar

from streamer.core.lifecycle import Transitions
from streamer.core.process_slot import ProcessSlot
from streamer.runtime.control import Control, StopReason


class WorkerPhase(str, enum.Enum):
    RUNNING = "running"
    WAITING_RESTART = "waiting_restart"
    STOPPING = "stopping"  # asked to stop: its camera moved to another host (or its lease was lost)
    FINISHED = "finished"
    FAILED = "failed"


WORKER_TRANSITIONS: Transitions[WorkerPhase] = Transitions(
    "worker",
    {
        None: {WorkerPhase.RUNNING},  # a slot not started yet
        WorkerPhase.RUNNING: {
            WorkerPhase.FINISHED,
            WorkerPhase.FAILED,
            WorkerPhase.WAITING_RESTART,
            WorkerPhase.STOPPING,
        },
        WorkerPhase.WAITING_RESTART: {
            WorkerPhase.RUNNING,
            WorkerPhase.FINISHED,
            WorkerPhase.FAILED,
            WorkerPhase.STOPPING,
        },
        # a camera that finished or failed may still be removed, moved or changed by a reload: stopped first
        WorkerPhase.FINISHED: {WorkerPhase.STOPPING},
        WorkerPhase.FAILED: {WorkerPhase.STOPPING},
        # its slot is dropped once the process is gone; a second edit before then stops it again, with the new reason
        WorkerPhase.STOPPING: {WorkerPhase.STOPPING},
    },
)


@dataclass
class WorkerSlot(ProcessSlot):
    TRANSITIONS: ClassVar[Transitions] = WORKER_TRANSITIONS

    camera: str
    phase: WorkerPhase | None = field(default=None, kw_only=True)
    changes: Queue | None = None  # one per process: a killed worker must not hold a lock others need
    controls: Queue | None = None  # the other way: reloaded settings and stop reasons (runtime/control.py)
    source_state: str = "starting"
    reason: str = ""
    fence: str | None = None  # on a site: the lease value its writes carry
    stop_deadline: float = 0.0

    @property
    def label(self) -> str:
        return self.camera

    def tell(self, control: Control) -> bool:
        """Hand the running worker a control; False when it cannot hear it (it is not running)."""
        if (
            self.phase is not WorkerPhase.RUNNING
            or self.controls is None
            or self.process is None
            or not self.process.is_alive()
        ):
            return self.phase is WorkerPhase.WAITING_RESTART  # it restarts with the config now held
        try:
            self.controls.put(control)
        except (OSError, ValueError):
            return False
        return True

    def tell_stop(self, reason: str) -> None:
        """Said just before SIGTERM, so the events the worker ends carry the reason."""
        if self.controls is not None:
            try:
                self.controls.put(StopReason(reason))
            except (OSError, ValueError):
                pass  # its events then end without a reason
