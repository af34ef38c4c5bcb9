"""A hit: one answer to a question, a time span on one camera with the evidence for it."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from typing import Literal


class HitSource(str, enum.Enum):
    RULE = "rule"  # an event of a detection rule, not looked at by a VLM
    VLM_VERIFICATION = "vlm_verification"  # an event the VLM stage confirmed or rejected when it happened
    VLM_GROUNDING = "vlm_grounding"  # times found by the VLM for this question (refined or added)
    TRACK_SUMMARY = "track_summary"  # the per-second track summary: an object was there
    VLM_WATCH = "vlm_watch"  # a `watch` prompt's confirmed sighting


class HitKind(str, enum.Enum):
    EVENT = "event"
    PRESENCE = "presence"
    WATCH = "watch"
    SCAN = "scan"  # footage with no event, found by the VLM with --scan


@dataclass(frozen=True)
class Hit:
    camera: str
    kind: HitKind
    type: str  # the event type; "presence", "watch" or "scan" otherwise
    label: str
    start_ts: float
    end_ts: float | None
    confidence: float | None  # the detector's (None: the VLM gives no score)
    source: HitSource
    verification: Literal["confirmed", "rejected", "pending", "unverified"]
    texts: tuple[str, ...] = ()  # what the question is compared with
    rule: str | None = None
    zone: str | None = None
    track_id: int | None = None
    event_id: str | None = None
    risk_level: str | None = None
    description: str | None = None
    snapshot: str | None = None  # the event's own snapshot, relative to the storage folder
    bbox: tuple[float, float, float, float] | None = None
    relevance: float = 0.0  # how well it matches the question (sentence similarity, keywords)
    score: float = 0.0  # the rank: relevance weighed by verification and confidence
    grounding: str | None = None  # what the VLM said for this question: confirmed | rejected | invalid | …
    index_start_ts: float | None = None  # the index's start, when grounding moved it

    @property
    def id(self) -> str:
        """Stable for the same span and evidence: clips and snapshots are fetched by it (never by path)."""
        key = f"{self.camera}|{self.kind.value}|{self.event_id}|{self.track_id}|{self.start_ts:.3f}|{self.end_ts}"
        return hashlib.sha1(key.encode()).hexdigest()[:16]
