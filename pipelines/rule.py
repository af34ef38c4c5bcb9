"""What every rule shares: the `RuleHit` it reports per frame and small helpers over `sv.Detections`.

A rule looks at one tracked frame at a time and says, for each subject (a track, or a zone for counting rules),
that its condition holds now and since when. It keeps whatever per-track memory it needs, and nothing else:
turning hits into events with ids, updates, ends and cooldowns is `streamer.events.lifecycle`'s job, the
same for every rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import supervision as sv

from streamer.core.types import BBox
from streamer.frame import TrackedFrame


@dataclass(frozen=True)
class RuleHit:
    key: str  # the subject inside this rule: "track:7", or "zone:door" for rules about a whole zone
    label: str  # detector class of the subject, e.g. "person"
    track_id: int | None
    since_ts: float  # wall-clock time the condition began: the event's start, not the moment the rule became sure
    confidence: float
    bbox_xyxy: BBox
    signal: str  # which signal fired: "geometry", "fall_model", "inside", "crossed_in"…
    zone: str | None = None
    instant: bool = False  # a crossing happens at one moment: the event starts and ends with it


class Rule(Protocol):
    name: str  # unique per camera; shown in alerts as source.rule
    event_type: str  # payload "type"

    def evaluate(self, tracked: TrackedFrame) -> list[RuleHit]:
        """Subjects whose condition holds on this frame (frames arrive in wall-clock order)."""
        ...


def of_classes(detections: sv.Detections, classes: Iterable[str]) -> sv.Detections:
    wanted = {name.lower() for name in classes}
    names = np.asarray(detections.data.get("class_name", []), dtype=str)
    mask = np.array([name.lower() in wanted for name in names], dtype=bool)
    return detections[mask] if len(detections) else detections


def box_of(detections: sv.Detections, index: int) -> BBox:
    x1, y1, x2, y2 = (float(value) for value in detections.xyxy[index])
    return (x1, y1, x2, y2)


def class_name(detections: sv.Detections, index: int) -> str:
    return str(detections.data["class_name"][index])


def confidence_of(detections: sv.Detections, index: int) -> float:
    if detections.confidence is None:
        return 1.0
    return float(detections.confidence[index])


def track_key(track_id: int) -> str:
    return f"track:{track_id}"


class RunTimer:
    """Since when a condition has held for each subject. A run survives frames on which the subject was missing
    for up to `gap_s` (a detector missing one frame must not restart a 30-second dwell); call `forget_stale`
    once per frame, after that frame's observations."""

    def __init__(self, gap_s: float):
        self.gap_s = gap_s
        self._since: dict[str, float] = {}
        self._last: dict[str, float] = {}

    def observe(self, key: str, ts: float) -> float:
        """The condition holds for `key` at `ts`; returns when its current run began."""
        self._since.setdefault(key, ts)
        self._last[key] = ts
        return self._since[key]

    def __contains__(self, key: str) -> bool:
        return key in self._since

    def forget_stale(self, now: float) -> None:
        for key in [key for key, last in self._last.items() if now - last > self.gap_s]:
            del self._last[key], self._since[key]
