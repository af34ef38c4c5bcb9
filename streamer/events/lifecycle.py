"""Hits → events: `new` when a subject's condition first holds, `update` at most every `update_every_s` when
the box or confidence changed, `end` when the condition has been gone for `end_after_s` (a lost track stops
hitting, so it ends the same way). After an end, the same rule and subject stay quiet for `cooldown_s`, so one
fall is one event. All times are the frames' wall-clock times, never the processing time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import supervision as sv

from pipelines.registry import build_rules
from pipelines.rule import Hit, Rule
from streamer.config.cameras import CameraConfig
from streamer.events.event import Event, EventState, make_event_id
from streamer.frame import TrackedFrame

CONFIDENCE_CHANGE = 0.1
BOX_CHANGE_IOU = 0.8
# An ended event is remembered (for its cooldown, and so the next event of the same subject cannot start before
# it ended) only this long past the later of the two: a subject gone for ten minutes is a new subject.
ENDED_MEMORY_S = 600.0
PRUNE_EVERY_S = 30.0


@dataclass(frozen=True)
class RuleTiming:
    cooldown_s: float
    end_after_s: float
    update_every_s: float


@dataclass(frozen=True)
class _Ended:
    end_ts: float
    quiet_until: float


@dataclass
class _OpenEvent:
    last: Event  # the last message sent
    hit: Hit  # the latest hit
    last_hit_ts: float
    gone_since: float | None = None


class EventLifecycle:
    def __init__(self, camera: str, rules: Sequence[tuple[Rule, RuleTiming]]):
        self.camera = camera
        self.rules = list(rules)
        self._open: dict[tuple[str, str], _OpenEvent] = {}
        self._ended: dict[tuple[str, str], _Ended] = {}
        self._pruned_at = float("-inf")

    @classmethod
    def for_camera(cls, name: str, camera: CameraConfig) -> "EventLifecycle":
        timings = [RuleTiming(c.cooldown_s, c.end_after_s, c.update_every_s) for c in camera.rules]
        return cls(name, list(zip(build_rules(camera), timings)))

    def step(self, tracked: TrackedFrame) -> list[Event]:
        out: list[Event] = []
        for rule, timing in self.rules:
            hits = {hit.key: hit for hit in rule.evaluate(tracked)}
            for key, hit in hits.items():
                out.extend(self._on_hit(rule, timing, (rule.name, key), hit, tracked))
            for slot in [slot for slot in self._open if slot[0] == rule.name and slot[1] not in hits]:
                out.extend(self._on_miss(timing, slot, tracked))
        self._forget_ended(tracked.frame.wall_ts)
        return out

    @property
    def remembered(self) -> int:
        """Open and recently ended events held in memory (bounded; the soak checks it)."""
        return len(self._open) + len(self._ended)

    def _forget_ended(self, now: float) -> None:
        if now - self._pruned_at < PRUNE_EVERY_S:
            return
        self._pruned_at = now
        horizon = now - ENDED_MEMORY_S
        for slot in [slot for slot, ended in self._ended.items() if max(ended.end_ts, ended.quiet_until) < horizon]:
            del self._ended[slot]

    def close(self, tracked: TrackedFrame | None) -> list[Event]:
        """The stream is over: end every open event at the last frame seen."""
        out = []
        for slot, open_event in list(self._open.items()):
            end_ts = open_event.gone_since or (tracked.frame.wall_ts if tracked else open_event.last_hit_ts)
            out.append(self._end(slot, open_event, end_ts, tracked, cooldown_s=0.0))
        return out

    def _on_hit(self, rule: Rule, timing: RuleTiming, slot, hit: Hit, tracked: TrackedFrame) -> list[Event]:
        ts = tracked.frame.wall_ts
        open_event = self._open.get(slot)
        if open_event is None:
            ended = self._ended.get(slot)
            if ended is not None and ts < ended.quiet_until:
                return []
            return self._open_new(rule, timing, slot, hit, tracked)
        open_event.hit, open_event.last_hit_ts, open_event.gone_since = hit, ts, None
        last = open_event.last
        if ts - last.observed_ts < timing.update_every_s or not _changed(last, hit):
            return []
        open_event.last = self._message(last, EventState.UPDATE, hit, tracked)
        return [open_event.last]

    def _open_new(self, rule: Rule, timing: RuleTiming, slot, hit: Hit, tracked: TrackedFrame) -> list[Event]:
        ended = self._ended.get(slot)
        start = max(hit.since_ts, ended.end_ts) if ended is not None else hit.since_ts  # never overlap the last one
        frame = tracked.frame
        event = Event(
            event_id=make_event_id(self.camera, rule.name, hit.key, start), seq=0, state=EventState.NEW,
            camera=self.camera, type=rule.event_type, rule=rule.name, label=hit.label, track_id=hit.track_id,
            start_ts=start, end_ts=None, confidence=hit.confidence, bbox_xyxy=hit.bbox_xyxy,
            frame_wh=(frame.width, frame.height), signal=hit.signal, zone=hit.zone,
            observed_ts=frame.wall_ts, frame_index=frame.index,
        )
        open_event = _OpenEvent(event, hit, frame.wall_ts)
        if hit.instant:
            return [event, self._end(slot, open_event, start, tracked, timing.cooldown_s)]
        self._open[slot] = open_event
        return [event]

    def _on_miss(self, timing: RuleTiming, slot, tracked: TrackedFrame) -> list[Event]:
        open_event = self._open[slot]
        ts = tracked.frame.wall_ts
        if open_event.gone_since is None:
            open_event.gone_since = ts
        if ts - open_event.last_hit_ts < timing.end_after_s:
            return []
        return [self._end(slot, open_event, open_event.gone_since, tracked, timing.cooldown_s)]

    def _end(self, slot, open_event: _OpenEvent, end_ts: float, tracked: TrackedFrame | None, cooldown_s: float) -> Event:
        self._open.pop(slot, None)
        end_ts = max(end_ts, open_event.last.start_ts)
        self._ended[slot] = _Ended(end_ts, end_ts + cooldown_s)
        return self._message(open_event.last, EventState.END, open_event.hit, tracked, end_ts=end_ts)

    @staticmethod
    def _message(last: Event, state: EventState, hit: Hit, tracked: TrackedFrame | None, end_ts: float | None = None) -> Event:
        observed = tracked.frame if tracked is not None else None
        return replace(
            last, seq=last.seq + 1, state=state, confidence=hit.confidence, bbox_xyxy=hit.bbox_xyxy, signal=hit.signal,
            end_ts=end_ts, observed_ts=observed.wall_ts if observed else last.observed_ts,
            frame_index=observed.index if observed else last.frame_index,
        )


def _changed(last: Event, hit: Hit) -> bool:
    if abs(hit.confidence - last.confidence) >= CONFIDENCE_CHANGE:
        return True
    iou = sv.box_iou_batch(np.array([last.bbox_xyxy]), np.array([hit.bbox_xyxy]))[0, 0]
    return bool(iou < BOX_CHANGE_IOU)
