"""Typed rows of the index, as they flow from the recorder and the worker into SQLite."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SegmentRow:
    camera: str
    start_ts: float
    end_ts: float
    path: str  # relative to the storage folder
    codec: str
    fps: float | None
    frames: int
    bytes: int
    media_start_s: float
    transcoded: bool = False

    @property
    def duration_s(self) -> float:
        return self.end_ts - self.start_ts


@dataclass(frozen=True)
class GapRow:
    camera: str
    start_ts: float
    end_ts: float
    reason: str  # e.g. "pts jumped forward 2.00 s", "pts jumped back", "reconnect", "disk full"


@dataclass(frozen=True)
class TrackSecond:
    camera: str
    second: int
    track_id: int
    label: str
    box: tuple[float, float, float, float]
    confidence: float


@dataclass(frozen=True)
class EventRecord:
    """One alert message of an event, as stored: the latest payload wins, every message goes to the history. Built
    from the alert payload by `streamer.alerts.messages.index_record`, where the message is read as its contract;
    the index keeps the message whole beside the columns it searches."""

    event_id: str
    seq: int
    state: str
    observed_ts: float
    camera: str
    type: str
    rule: str
    label: str
    track_id: int | None
    start_ts: float
    end_ts: float | None
    confidence: float
    bbox_xyxy: tuple[float, float, float, float]
    frame_wh: tuple[int, int]
    verification: str
    risk_level: str | None
    description: str | None
    snapshot: str | None
    clip: str | None
    source_json: str
    payload_json: str


@dataclass(frozen=True)
class FindingRow:
    """One VLM answer (or failure) as the index keeps it: the `vlm_findings` table, both ways."""

    job_id: str
    event_id: str | None  # None for a watch prompt's sighting
    camera: str
    kind: str  # verify | watch
    status: str  # answered | invalid | failed
    verdict: str | None  # confirmed | rejected
    risk_level: str | None
    label: str | None
    description: str | None
    start_ts: float | None  # the VLM's own times, wall clock
    end_ts: float | None
    window_start_ts: float
    window_end_ts: float
    track_id: int | None
    bbox_json: str | None
    model: str
    answer_text: str | None  # the model's raw answer, for audits
    error: str | None
    answered_ts: float

    @classmethod
    def columns(cls) -> tuple[str, ...]:
        return tuple(cls.__dataclass_fields__)


@dataclass(frozen=True)
class ReviewRow:
    """A person's verdict on an event (true or false alarm), with who gave it and when."""

    event_id: str
    verdict: str  # true_alarm | false_alarm
    note: str | None
    reviewer: str
    reviewed_ts: float
