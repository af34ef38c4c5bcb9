"""Every lifecycle's table (streamer/core/lifecycle.py): the moves the design allows pass, the others are refused
with the lifecycle and the subject named, and a final state lets nothing follow."""

from __future__ import annotations

import pytest

from streamer.alerts.liveness import LINK_TRANSITIONS, LinkState
from streamer.core.lifecycle import InvalidTransition
from streamer.engine.host import ENGINE_TRANSITIONS, EnginePhase
from streamer.events.lifecycle import SUBJECT_TRANSITIONS, SubjectState
from streamer.media.uploader import UPLOAD_TRANSITIONS, UploadState
from streamer.record.recorder import RECORDER_TRANSITIONS, RecorderState
from streamer.runtime.slots import WORKER_TRANSITIONS, WorkerPhase, WorkerSlot
from streamer.source.state import SOURCE_TRANSITIONS, SourceState, SourceStateMachine

ALLOWED = [
    (SOURCE_TRANSITIONS, None, SourceState.CONNECTING),
    (SOURCE_TRANSITIONS, SourceState.STREAMING, SourceState.RECONNECTING),
    (SUBJECT_TRANSITIONS, SubjectState.COOLDOWN, None),
    (RECORDER_TRANSITIONS, RecorderState.PAUSED, RecorderState.RECORDING),
    (LINK_TRANSITIONS, LinkState.DOWN, LinkState.DOWN),
    (WORKER_TRANSITIONS, WorkerPhase.WAITING_RESTART, WorkerPhase.RUNNING),
    (WORKER_TRANSITIONS, WorkerPhase.FINISHED, WorkerPhase.STOPPING),
    (WORKER_TRANSITIONS, WorkerPhase.STOPPING, WorkerPhase.STOPPING),  # edited again before it stopped
    (ENGINE_TRANSITIONS, EnginePhase.RUNNING, EnginePhase.WAITING_RESTART),
    (UPLOAD_TRANSITIONS, UploadState.BACKLOGGED, UploadState.CAUGHT_UP),
]
REFUSED = [
    (SOURCE_TRANSITIONS, SourceState.STOPPED, SourceState.CONNECTING),
    (SOURCE_TRANSITIONS, SourceState.RECONNECTING, SourceState.STREAMING),  # it connects first
    (SUBJECT_TRANSITIONS, None, SubjectState.ENDING),
    (RECORDER_TRANSITIONS, RecorderState.FAILED, RecorderState.RECORDING),
    (LINK_TRANSITIONS, LinkState.UP, LinkState.UNKNOWN),
    (WORKER_TRANSITIONS, WorkerPhase.STOPPING, WorkerPhase.RUNNING),
    (WORKER_TRANSITIONS, None, WorkerPhase.FINISHED),
    (ENGINE_TRANSITIONS, EnginePhase.STOPPED, EnginePhase.RUNNING),
    (UPLOAD_TRANSITIONS, UploadState.UPLOADING, UploadState.UPLOADING),
]


@pytest.mark.parametrize(("table", "current", "new"), ALLOWED)
def test_the_designed_moves_pass(table, current, new) -> None:
    assert table.allows(current, new)
    table.check(current, new)


@pytest.mark.parametrize(("table", "current", "new"), REFUSED)
def test_other_moves_are_refused_naming_the_lifecycle(table, current, new) -> None:
    with pytest.raises(InvalidTransition, match=f"^{table.name}"):
        table.check(current, new, "lobby")


def test_the_holders_check_their_moves() -> None:
    machine = SourceStateMachine("lobby")
    machine.to(SourceState.CONNECTING)
    machine.to(SourceState.STOPPED, "stop requested")
    with pytest.raises(InvalidTransition, match=r"^source lobby: stopped → connecting is not allowed$"):
        machine.to(SourceState.CONNECTING)
    assert SOURCE_TRANSITIONS.final(SourceState.STOPPED) and not SOURCE_TRANSITIONS.final(SourceState.STREAMING)

    slot = WorkerSlot("lobby")
    assert slot.phase is None
    slot.move(WorkerPhase.RUNNING)
    slot.move(WorkerPhase.WAITING_RESTART)
    slot.move(WorkerPhase.STOPPING)
    with pytest.raises(InvalidTransition, match=r"^worker lobby: stopping → running"):
        slot.move(WorkerPhase.RUNNING)
