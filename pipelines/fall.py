"""Fall: a person's box turns from tall to wide while its top edge drops, and/or the fall model says `Fall`,
and it stays that way for `min_down_s`. The event starts where the fall began: the last frame on which the
person still stood, found by looking back through the track's recent boxes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import supervision as sv

from pipelines.kind import RuleKind
from pipelines.rule import RuleHit, RunTimer, box_of, class_name, confidence_of, of_classes, track_key
from streamer.config.cameras import ZoneConfig
from streamer.config.rules import FallRuleConfig
from streamer.frame import TrackedFrame

STANDING_TOLERANCE = 0.05  # share of the standing height the top edge may move before we call it a drop
STANDING_WIDENING = 1.25  # how much wider (relative to its height) the box may get before we call it tilting
MODEL_MATCH_IOU = 0.3
RELINK_S = (
    1.5  # ByteTrack often starts a new id when a box turns on its side; this is how far back we look for the old one
)


@dataclass(frozen=True)
class Sample:
    ts: float
    box: tuple[float, float, float, float]

    @property
    def top(self) -> float:
        return self.box[1]

    @property
    def height(self) -> float:
        return max(1.0, self.box[3] - self.box[1])

    @property
    def aspect(self) -> float:
        return (self.box[2] - self.box[0]) / self.height

    @property
    def foot(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2, self.box[3])


class FallRule:
    event_type = "fall"

    def __init__(self, config: FallRuleConfig):
        self.name = config.rule_name
        self.config = config
        self._history: dict[int, deque[Sample]] = {}
        self._down = RunTimer(config.end_after_s)
        self._start_of_run: dict[str, tuple[float, float]] = {}  # key → (run began, fall began)
        self._lying: set[str] = set()  # tracks whose box went down from standing in the current run

    @classmethod
    def from_config(cls, config: FallRuleConfig, zones: dict[str, ZoneConfig]) -> "FallRule":
        return cls(config)

    def evaluate(self, tracked: TrackedFrame) -> list[RuleHit]:
        ts = tracked.frame.wall_ts
        people = of_classes(tracked.detections, self.config.classes)
        fall_boxes, fall_scores = self._fall_model_boxes(tracked)
        model_iou = sv.box_iou_batch(people.xyxy, fall_boxes) if len(people) and len(fall_boxes) else None
        present = {int(track_id) for track_id in people.tracker_id} if len(people) else set()
        hits = []
        for index in range(len(people)):
            track_id = int(people.tracker_id[index])
            history = self._history_for(track_id, box_of(people, index), ts, present)
            history.append(Sample(ts, box_of(people, index)))
            key = track_key(track_id)
            signals, confidence = self._signals(history, key in self._lying, people, index, model_iou, fall_scores)
            if not signals:
                continue
            if "geometry" in signals:
                self._lying.add(key)
            since = self._down.observe(key, ts)
            began = self._fall_began(key, since, history)
            if ts - since >= self.config.min_down_s:
                hits.append(
                    RuleHit(
                        key=key,
                        label=class_name(people, index),
                        track_id=track_id,
                        since_ts=began,
                        confidence=confidence,
                        bbox_xyxy=box_of(people, index),
                        signal="+".join(signals),
                    )
                )
        self._forget(ts)
        return hits

    def _fall_model_boxes(self, tracked: TrackedFrame) -> tuple[np.ndarray, np.ndarray]:
        found = tracked.extra.get(self.config.fall_model) if self.config.fall_model else None
        if found is None or not len(found):
            return np.zeros((0, 4)), np.zeros(0)
        falls = of_classes(found, [self.config.fall_class])
        scores = falls.confidence if falls.confidence is not None else np.ones(len(falls))
        return falls.xyxy, scores

    def _signals(self, history, was_lying, people, index, model_iou, fall_scores) -> tuple[list[str], float]:
        signals, confidence = [], confidence_of(people, index)
        if self._geometry_down(history, was_lying):
            signals.append("geometry")
        if model_iou is not None and model_iou[index].max() >= MODEL_MATCH_IOU:
            signals.append("fall_model")
            confidence = max(confidence, float(fall_scores[int(model_iou[index].argmax())]))
        return signals, confidence

    def _geometry_down(self, history: deque[Sample], was_down: bool) -> bool:
        """Wide now, after a drop from standing; once down, staying wide is enough (the standing boxes age out)."""
        now = history[-1]
        if now.aspect <= self.config.aspect_ratio_down:
            return False
        if was_down:
            return True
        reference = _standing_reference(history, self.config.aspect_ratio_down)
        return reference is not None and now.top - reference.top >= self.config.top_drop_ratio * reference.height

    def _fall_began(self, key: str, since: float, history: deque[Sample]) -> float:
        """Computed once per down run: the last standing frame before it, else the run's first frame."""
        known = self._start_of_run.get(key)
        if known is not None and known[0] == since:
            return known[1]
        began = since
        before = [s for s in history if s.ts < since]
        reference = _standing_reference(before, self.config.aspect_ratio_down)
        if reference is not None:
            # a falling body first tilts (its box widens), then its head drops: both must still be as when standing
            top_limit = reference.top + STANDING_TOLERANCE * reference.height
            aspect_limit = reference.aspect * STANDING_WIDENING
            standing = [s for s in before if s.top <= top_limit and s.aspect <= aspect_limit]
            if standing:
                began = standing[-1].ts
        self._start_of_run[key] = (since, began)
        return began

    def _history_for(self, track_id: int, box, ts: float, present: set[int]) -> deque[Sample]:
        history = self._history.get(track_id)
        if history is None:
            history = self._relinked(box, ts, present) or deque()
            self._history[track_id] = history
        return history

    def _relinked(self, box, ts: float, present: set[int]) -> deque[Sample] | None:
        """Take over the history of a track lost moments ago whose feet were near this new box's feet."""
        new_foot = Sample(ts, box).foot
        best, best_distance = None, float("inf")
        for track_id, history in self._history.items():
            last = history[-1]
            if track_id in present or ts - last.ts > RELINK_S:
                continue
            distance = float(np.hypot(new_foot[0] - last.foot[0], new_foot[1] - last.foot[1]))
            if distance <= max(last.height, last.box[2] - last.box[0]) and distance < best_distance:
                best, best_distance = track_id, distance
        return self._history.pop(best) if best is not None else None

    def _forget(self, now: float) -> None:
        horizon = self.config.history_s
        for track_id in list(self._history):
            history = self._history[track_id]
            while history and now - history[0].ts > horizon:
                history.popleft()
            if not history:
                del self._history[track_id]
        self._down.forget_stale(now)
        for key in [key for key in self._start_of_run if key not in self._down]:
            del self._start_of_run[key]
        self._lying = {key for key in self._lying if key in self._down}


def _standing_reference(samples, aspect_ratio_down: float) -> Sample | None:
    """The tallest upright box among the samples: the person's standing height and head position."""
    upright = [s for s in samples if s.aspect < aspect_ratio_down]
    return max(upright, key=lambda s: s.height) if upright else None


KIND = RuleKind(
    rule=FallRule,
    config=FallRuleConfig,
    question="Does a person fall down (lose balance and end up on the ground or floor) in this clip? "
    "A person who sits or lies down on purpose has not fallen.",
    match_sentences=("a {label} fell down and is lying on the ground", "a {label} tripped, stumbled or collapsed"),
    answer="{a_label} fell",
)
