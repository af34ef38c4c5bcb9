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
    """One alert message of an event, as stored: the latest payload wins, every message goes to the history."""

    event_id: str
    seq: int
    state: str
    observed_ts: float
    payload_json: str
