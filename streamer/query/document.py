"""The answer document's contract: what `streamer query --json` prints and `GET /query` returns, checked before
it leaves the service. `streamer query schema` prints its JSON Schema (like `streamer alerts schema`); fields may
be added within a version, so a reader ignores fields it does not know."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from streamer.query.ground import GroundingStatus, WindowVerdict
from streamer.query.hits import HitKind, HitSource


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Understood(_Strict):
    time: list[str] = Field(description="The time phrases read from the question.")
    cameras: list[str] = Field(description="Cameras the question named (empty: it named none).")
    zones: list[str]
    classes: list[str] = Field(description="Detector classes the question named.")
    subject: str = Field(description="What is matched by meaning: the question without its time and camera.")
    only_time: bool = Field(description="Nothing but a time (and camera): every event then is listed.")


class Searched(_Strict):
    cameras: list[str]
    since_ts: float
    since_iso: str
    until_ts: float
    until_iso: str
    events: int = Field(ge=0)
    segments: int = Field(ge=0)
    footage_s: float = Field(ge=0)
    footage_hours: float = Field(ge=0)
    recordings_from_iso: str | None = Field(description="The recordings' extent, whatever the range.")
    recordings_to_iso: str | None


class AnswerHit(_Strict):
    id: str = Field(pattern=r"^[0-9a-f]{16}$", description="Fetch its files by this id: /clips/{id}, /snapshots/{id}.")
    camera: str
    kind: HitKind
    type: str = Field(description="The event type; presence, watch or scan otherwise.")
    label: str
    track_id: int | None
    start_ts: float = Field(description="Epoch seconds when it began.")
    start_iso: str
    end_ts: float | None
    end_iso: str | None
    confidence: float | None = Field(description="The detector's; none when only the VLM saw it.")
    source: HitSource
    verification: Literal["confirmed", "rejected", "pending", "unverified"]
    grounding: GroundingStatus | WindowVerdict | None = Field(
        description="What the VLM said when asked about this hit for this question."
    )
    risk_level: str | None
    description: str | None
    event_id: str | None
    rule: str | None
    zone: str | None
    relevance: float
    score: float
    index_start_iso: str | None = Field(description="The index's start, when the VLM moved it.")
    clip: str | None = Field(description="Relative to the storage folder, once made.")
    clip_url: str
    clip_error: str | None
    snapshot: str | None
    snapshot_url: str
    snapshot_error: str | None


class ScanSummary(_Strict):
    windows: int = Field(ge=0)
    sent: int = Field(ge=0)
    seconds: float = Field(ge=0)
    narrowed_by_classes: list[str]


class VlmReport(_Strict):
    status: GroundingStatus | Literal["not_configured"]
    model: str | None
    detail: str | None
    windows: int = Field(ge=0)
    verdicts: dict[WindowVerdict, int] | None = None
    seconds: float | None = None
    scan: ScanSummary | None = None


class AnswerDocument(_Strict):
    version: Literal[1]
    question: str
    answer: str = Field(description="One sentence, with the wall-clock time of the top hit.")
    understood: Understood
    searched: Searched
    hits: list[AnswerHit]
    vlm: VlmReport
    notes: list[str]
    cached: bool
    elapsed_s: float | None = None


def checked(doc: dict) -> dict:
    """The document as it goes out, validated against the contract (a drift is a bug, raised here)."""
    return AnswerDocument.model_validate(doc).model_dump(mode="json")


def json_schema() -> str:
    return json.dumps(AnswerDocument.model_json_schema(), indent=2) + "\n"
