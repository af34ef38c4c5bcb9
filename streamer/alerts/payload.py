"""The alert payload of DESIGN.md section 3, validated before it leaves the service.

One message per state change of an event, all sharing `event_id`. Subscribers may validate against
the JSON Schema that `streamer alerts schema` prints (generated from this model).
"""

from __future__ import annotations

import enum
import json
from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = 1


class AlertState(str, enum.Enum):
    NEW = "new"
    UPDATE = "update"
    END = "end"


class Verification(str, enum.Enum):
    PENDING = "pending"  # a VLM job is queued
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    UNVERIFIED = "unverified"  # no VLM configured


RiskLevel = Literal["low", "medium", "high", "critical"]


def iso_time(ts: float, tz: timezone | None = None) -> str:
    """Epoch seconds → ISO 8601 with milliseconds and offset, as every alert and answer shows time."""
    return datetime.fromtimestamp(ts, tz or timezone.utc).isoformat(timespec="milliseconds")


class AlertSource(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rule: str = Field(min_length=1)
    model: str = Field(min_length=1)


class AlertPayload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, title="streamer alert", use_enum_values=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: str = Field(min_length=1, description="Stable across the new/update/end messages of one event.")
    camera: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    type: str = Field(min_length=1, description="Event type: fall, zone_intrusion, dwell, line_crossing, count…")
    state: AlertState
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
    clip: str | None
    source: AlertSource

    @model_validator(mode="after")
    def _times_agree(self) -> "AlertPayload":
        _check_iso("start", self.start_ts, self.start_iso)
        if (self.end_ts is None) != (self.end_iso is None):
            raise ValueError("end_ts and end_iso must both be set or both be null")
        if self.end_ts is not None:
            _check_iso("end", self.end_ts, self.end_iso)
            if self.end_ts < self.start_ts:
                raise ValueError("end_ts is before start_ts")
        if self.state == AlertState.END.value and self.end_ts is None:
            raise ValueError("an 'end' alert needs end_ts")
        x1, y1, x2, y2 = self.bbox_xyxy
        if x2 < x1 or y2 < y1:
            raise ValueError("bbox_xyxy must be [x1, y1, x2, y2] with x1 <= x2 and y1 <= y2")
        return self

    def to_json(self) -> str:
        return self.model_dump_json()


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
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["description"] = (__doc__ or "").strip().splitlines()[0] + " Ignore fields you do not know."
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
