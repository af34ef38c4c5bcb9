"""The event message that leaves the rules stage: one per state change of an event."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from streamer.core.types import BBox, EventState


@dataclass(frozen=True)
class Event:
    event_id: str  # stable across the messages of one event
    seq: int  # message number within the event: 0 is `new`
    state: EventState
    camera: str
    type: str  # fall, zone_intrusion, dwell, line_crossing, count
    rule: str  # the rule's name on this camera
    label: str
    track_id: int | None
    start_ts: float  # when the condition began (wall clock of the source)
    end_ts: float | None
    confidence: float
    bbox_xyxy: BBox
    frame_wh: tuple[int, int]
    signal: str  # which signal fired
    zone: str | None
    observed_ts: float  # wall_ts of the frame this message was decided on (for latency)
    frame_index: int
    end_reason: str | None = None  # an `end` no rule decided: the camera stopped, or its rule changed in the config

    @property
    def message_id(self) -> str:
        """Unique per message: delivery is exactly once per message id."""
        return f"{self.event_id}:{self.seq}:{self.state.value}"


def make_event_id(camera: str, rule: str, key: str, start_ts: float) -> str:
    """Deterministic, so that replaying the same file gives the same ids (and Redis-side dedupe holds)."""
    digest = hashlib.sha1(f"{camera}|{rule}|{key}|{round(start_ts * 1000)}".encode()).hexdigest()[:16]
    return f"{camera}-{digest}"
