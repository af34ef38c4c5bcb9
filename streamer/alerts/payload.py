"""The alert payload (docs/contracts.md), validated before it leaves the service.

One message per state change of an event, all sharing `event_id`. Subscribers may validate against
the JSON Schema that `streamer alerts schema` prints (generated from this model).
"""

from __future__ import annotations

import enum
import json
from datetime import datetime, tzinfo
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from streamer.core.timefmt import iso_time
from streamer.core.types import EventState, RiskLevel

SCHEMA_VERSION = 1
CAMERA_OFFLINE = "camera_offline"  # a camera's own health: `new` when it goes offline, `end` when frames come again


class Verification(str, enum.Enum):
    PENDING = "pending"  # a VLM job is queued
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    UNVERIFIED = "unverified"  # no VLM configured


class AlertSource(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rule: str = Field(min_length=1, description="The rule's name on this camera.")
    model: str = Field(min_length=1, description="Weights that saw it; '+'-joined when an extra model fired too.")
    signal: str | None = Field(None, description="Which signal fired, e.g. geometry, fall_model, inside, crossed_in.")
    zone: str | None = Field(None, description="The zone the rule watches, when it has one.")


class VlmSummary(BaseModel):
    """What the VLM said about the event; set on the `update` its answer produces (and kept on later messages)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    status: Literal["answered", "invalid", "failed"] = Field(
        description="answered: a valid verdict; invalid: no valid answer after a retry; "
        "failed: the job went to the dead letters."
    )
    model: str = Field(min_length=1)
    job_id: str = Field(min_length=1)
    window_start_ts: float = Field(gt=0, description="The clip the VLM saw, epoch seconds.")
    window_end_ts: float = Field(gt=0)
    label: str | None = Field(None, description="The VLM's own words for what happens.")
    start_ts: float | None = Field(None, gt=0, description="When the VLM says it starts, epoch seconds.")
    start_iso: str | None = None
    end_ts: float | None = Field(None, gt=0)
    end_iso: str | None = None
    bbox_xyxy: tuple[float, float, float, float] | None = Field(None, description="The VLM's box, source-frame pixels.")
    track_id: int | None = Field(None, description="The track that box overlaps most (IoU ≥ 0.3).")
    latency_s: float = Field(ge=0, description="From the job's creation to the answer.")
    attempts: int = Field(ge=1)
    error: str | None = None


class ReviewSummary(BaseModel):
    """A person's verdict on the alert (the console's true / false alarm); set on the `update` it produces and kept
    on the event's later messages."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    verdict: Literal["true_alarm", "false_alarm"]
    note: str | None = Field(None, max_length=2000)
    reviewer: str = Field(min_length=1, max_length=64)
    reviewed_ts: float = Field(gt=0)
    reviewed_iso: str


class AlertPayload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, title="streamer alert", use_enum_values=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: str = Field(min_length=1, description="Stable across the new/update/end messages of one event.")
    camera: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    type: str = Field(min_length=1, description="Event type: fall, zone_intrusion, dwell, line_crossing, count…")
    state: EventState
    label: str = Field(description="Detector class of the object, e.g. person.")
    track_id: int | None = Field(ge=0)
    start_ts: float = Field(gt=0, description="Epoch seconds when the event began.")
    start_iso: str
    end_ts: float | None = Field(gt=0)
    end_iso: str | None
    confidence: float = Field(ge=0, le=1)
    bbox_xyxy: tuple[float, float, float, float] = Field(description="Source-frame pixels.")
    frame_wh: tuple[int, int]
    verification: Verification
    risk_level: RiskLevel | None
    description: str | None
    snapshot: str = Field(description="Path relative to the storage folder, or a URI.")
    clip: str | None = Field(
        description="The event's MP4 (pre- to post-roll), relative to the storage folder; "
        "set in an `update` sent once the event has ended and its clip is written."
    )
    source: AlertSource
    vlm: VlmSummary | None = Field(None, description="The VLM's finding; absent or null until it answered.")
    review: ReviewSummary | None = Field(None, description="A person's verdict; absent or null until one is given.")
    end_reason: str | None = Field(
        None,
        max_length=300,
        description="Why an `end` came from no rule: the camera was "
        "stopped (removed from the config, moved to another host, the service stopping), "
        "its rule changed or was removed in the config, or the host that ran the camera "
        "stopped answering (the host that took the camera over ends its open events). "
        "Absent or null otherwise.",
    )

    @model_validator(mode="after")
    def _times_agree(self) -> "AlertPayload":
        _check_iso("start", self.start_ts, self.start_iso)
        if (self.end_ts is None) != (self.end_iso is None):
            raise ValueError("end_ts and end_iso must both be set or both be null")
        if self.end_ts is not None:
            _check_iso("end", self.end_ts, self.end_iso)
            if self.end_ts < self.start_ts:
                raise ValueError("end_ts is before start_ts")
        if self.state == EventState.END.value and self.end_ts is None:
            raise ValueError("an 'end' alert needs end_ts")
        x1, y1, x2, y2 = self.bbox_xyxy
        if x2 < x1 or y2 < y1:
            raise ValueError("bbox_xyxy must be [x1, y1, x2, y2] with x1 <= x2 and y1 <= y2")
        return self

    def to_json(self) -> str:
        return self.model_dump_json()


def alert_from_event(
    event,
    snapshot: str,
    model: str,
    tz: tzinfo | None = None,
    clip: str | None = None,
    verification: Verification = Verification.UNVERIFIED,
) -> AlertPayload:
    """An `Event` (streamer.events.event) as the payload subscribers receive: `pending` when a VLM job will
    answer, `unverified` without a VLM. Times are rounded to the millisecond the ISO strings show."""
    start = round(event.start_ts, 3)
    end = None if event.end_ts is None else round(event.end_ts, 3)
    return AlertPayload(
        event_id=event.event_id,
        camera=event.camera,
        type=event.type,
        state=event.state.value,
        label=event.label,
        track_id=event.track_id,
        start_ts=start,
        start_iso=iso_time(start, tz),
        end_ts=end,
        end_iso=None if end is None else iso_time(end, tz),
        confidence=round(min(1.0, max(0.0, event.confidence)), 4),
        bbox_xyxy=tuple(round(value, 1) for value in event.bbox_xyxy),
        frame_wh=event.frame_wh,
        verification=verification,
        risk_level=None,
        description=None,
        snapshot=snapshot,
        clip=clip,
        source=AlertSource(rule=event.rule, model=model, signal=event.signal, zone=event.zone),
        end_reason=event.end_reason,
    )


def _check_iso(which: str, ts: float, iso: str | None) -> None:
    try:
        parsed = datetime.fromisoformat(iso or "")
    except ValueError:
        raise ValueError(f"{which}_iso is not ISO 8601: {iso!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{which}_iso needs a UTC offset")
    if abs(parsed.timestamp() - ts) > 0.001:
        raise ValueError(f"{which}_iso {iso} does not match {which}_ts {ts}")


def json_schema() -> str:
    """The schema for subscribers. The service itself refuses unknown fields, but subscribers must accept them:
    later versions add optional fields (the VLM's findings) without bumping schema_version."""
    schema = AlertPayload.model_json_schema()
    schema["additionalProperties"] = True
    for definition in schema.get("$defs", {}).values():
        if definition.get("type") == "object":
            definition["additionalProperties"] = True
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["description"] = (__doc__ or "").strip().splitlines()[0] + " Ignore fields you do not know."
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
