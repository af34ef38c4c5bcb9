"""Hits → events, with one explicit state per rule and subject (a track, or a zone for counting rules):

    (idle) ──hit──► open ──miss──► ending ──gone end_after_s──► cooldown ──quiet_until passed, hit──► open
                     ▲               │ hit                         │ forgotten after ENDED_MEMORY_S
                     └───────────────┘                             ▼
                                                                 (idle)

`new` on entering `open`, `update` at most every `update_every_s` while open when the box or confidence
changed, `end` on entering `cooldown` (a lost track stops hitting, so it ends the same way; an instant hit
such as a line crossing goes straight from idle through open to cooldown). In cooldown the same rule and
subject stay quiet for `cooldown_s`, so one fall is one event, and a new event never starts before the last
one ended. All times are the frames' wall-clock times, never the processing time.

A config reload changes the rules in place (`reconfigure`): a rule whose settings and zones are unchanged keeps its
subjects (an open event goes on); a changed or removed rule's open events end at the last frame with an
`end_reason`, and a changed rule starts afresh.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import supervision as sv

from pipelines.registry import build_rules
from pipelines.rule import Rule, RuleHit
from streamer.config.cameras import CameraConfig
from streamer.core.lifecycle import Transitions
from streamer.events.event import Event, EventState, make_event_id
from streamer.frame import TrackedFrame

CONFIDENCE_CHANGE = 0.1
BOX_CHANGE_IOU = 0.8
# A subject in cooldown is remembered only this long past the later of its end and its quiet time: one gone for
# ten minutes is a new subject, and the memory stays bounded however many tracks come and go.
ENDED_MEMORY_S = 600.0
PRUNE_EVERY_S = 30.0


class SubjectState(str, enum.Enum):
    OPEN = "open"  # its condition holds: an event is running
    ENDING = "ending"  # the condition is gone, for less than end_after_s so far
    COOLDOWN = "cooldown"  # its event ended; quiet until quiet_until


SUBJECT_TRANSITIONS: Transitions[SubjectState] = Transitions(
    "subject",
    {
        None: {SubjectState.OPEN},  # idle: not held at all
        SubjectState.OPEN: {SubjectState.ENDING, SubjectState.COOLDOWN},
        SubjectState.ENDING: {SubjectState.OPEN, SubjectState.COOLDOWN},
        SubjectState.COOLDOWN: {SubjectState.OPEN, None},
    },
)


@dataclass(frozen=True)
class RuleTiming:
    cooldown_s: float
    end_after_s: float
    update_every_s: float


@dataclass
class Subject:
    state: SubjectState
    last: Event  # the last message sent about it
    hit: RuleHit  # its latest hit
    last_hit_ts: float
    gone_since: float | None = None  # ending: the first frame without it
    quiet_until: float = float("-inf")  # cooldown: hits before this are ignored

    def to(self, state: SubjectState) -> None:
        SUBJECT_TRANSITIONS.check(self.state, state)
        self.state = state


Slot = tuple[str, str]  # (rule name, subject key)


class EventLifecycle:
    def __init__(self, camera: str, rules: Sequence[tuple[Rule, RuleTiming]], signatures: dict[str, str] | None = None):
        """`signatures`: each rule's settings and zones as configured, to tell a changed rule on `reconfigure`."""
        self.camera = camera
        self.rules = list(rules)
        self.signatures = signatures or {}
        self._subjects: dict[Slot, Subject] = {}
        self._pruned_at = float("-inf")

    @classmethod
    def for_camera(cls, name: str, camera: CameraConfig) -> "EventLifecycle":
        return cls(name, _camera_rules(camera), rule_signatures(camera))

    def reconfigure(self, camera: CameraConfig, tracked: TrackedFrame | None) -> list[Event]:
        """The camera's rules as a reload gives them; returns the `end`s of the events of changed or removed rules."""
        signatures = rule_signatures(camera)
        kept = {
            rule.name: (rule, timing)
            for rule, timing in self.rules
            if signatures.get(rule.name) == self.signatures.get(rule.name)
        }
        out: list[Event] = []
        for rule, _ in self.rules:
            if rule.name not in kept:
                why = (
                    "its rule changed in the config"
                    if rule.name in signatures
                    else "its rule was removed from the config"
                )
                out.extend(self._drop_rule(rule.name, tracked, why))
        self.rules = [kept.get(rule.name, (rule, timing)) for rule, timing in _camera_rules(camera)]
        self.signatures = signatures
        return out

    @property
    def remembered(self) -> int:
        """Subjects held in memory, open or in cooldown (bounded; the tests and the soak check it)."""
        return len(self._subjects)

    def state_of(self, rule: str, key: str) -> SubjectState | None:
        subject = self._subjects.get((rule, key))
        return subject.state if subject is not None else None

    def step(self, tracked: TrackedFrame) -> list[Event]:
        out: list[Event] = []
        for rule, timing in self.rules:
            hits = {hit.key: hit for hit in rule.evaluate(tracked)}
            for key, hit in hits.items():
                out.extend(self._on_hit(rule, timing, (rule.name, key), hit, tracked))
            running = [
                slot
                for slot, subject in self._subjects.items()
                if slot[0] == rule.name and slot[1] not in hits and subject.state is not SubjectState.COOLDOWN
            ]
            for slot in running:
                out.extend(self._on_miss(timing, slot, tracked))
        self._forget(tracked.frame.wall_ts)
        return out

    def close(self, tracked: TrackedFrame | None, reason: str | None = None) -> list[Event]:
        """The stream is over: end every running event at the last frame seen (`reason`: why, when not played out)."""
        return [
            self._end_now(subject, tracked, reason)
            for subject in list(self._subjects.values())
            if subject.state is not SubjectState.COOLDOWN
        ]

    def _drop_rule(self, rule: str, tracked: TrackedFrame | None, reason: str) -> list[Event]:
        slots = [slot for slot in self._subjects if slot[0] == rule]
        out = [
            self._end_now(self._subjects[slot], tracked, reason)
            for slot in slots
            if self._subjects[slot].state is not SubjectState.COOLDOWN
        ]
        for slot in slots:
            del self._subjects[slot]
        return out

    def _end_now(self, subject: Subject, tracked: TrackedFrame | None, reason: str | None) -> Event:
        end_ts = subject.gone_since or (tracked.frame.wall_ts if tracked else subject.last_hit_ts)
        return self._end(subject, end_ts, tracked, cooldown_s=0.0, reason=reason)

    def _on_hit(self, rule: Rule, timing: RuleTiming, slot: Slot, hit: RuleHit, tracked: TrackedFrame) -> list[Event]:
        ts = tracked.frame.wall_ts
        subject = self._subjects.get(slot)
        if subject is None or subject.state is SubjectState.COOLDOWN:
            if subject is not None and ts < subject.quiet_until:
                return []
            return self._open(rule, timing, slot, hit, tracked, subject)
        if subject.state is SubjectState.ENDING:
            subject.to(SubjectState.OPEN)
        subject.hit, subject.last_hit_ts, subject.gone_since = hit, ts, None
        last = subject.last
        if ts - last.observed_ts < timing.update_every_s or not _changed(last, hit):
            return []
        subject.last = self._message(last, EventState.UPDATE, hit, tracked)
        return [subject.last]

    def _open(
        self, rule: Rule, timing: RuleTiming, slot: Slot, hit: RuleHit, tracked: TrackedFrame, ended: Subject | None
    ) -> list[Event]:
        # never overlap the previous event of the same subject
        start = (
            max(hit.since_ts, ended.last.end_ts)
            if ended is not None and ended.last.end_ts is not None
            else hit.since_ts
        )
        frame = tracked.frame
        event = Event(
            event_id=make_event_id(self.camera, rule.name, hit.key, start),
            seq=0,
            state=EventState.NEW,
            camera=self.camera,
            type=rule.event_type,
            rule=rule.name,
            label=hit.label,
            track_id=hit.track_id,
            start_ts=start,
            end_ts=None,
            confidence=hit.confidence,
            bbox_xyxy=hit.bbox_xyxy,
            frame_wh=(frame.width, frame.height),
            signal=hit.signal,
            zone=hit.zone,
            observed_ts=frame.wall_ts,
            frame_index=frame.index,
        )
        if ended is None:
            subject = Subject(SubjectState.OPEN, event, hit, frame.wall_ts)
        else:
            subject = ended
            subject.to(SubjectState.OPEN)
            subject.last, subject.hit, subject.last_hit_ts, subject.gone_since = event, hit, frame.wall_ts, None
        self._subjects[slot] = subject
        if hit.instant:
            return [event, self._end(subject, start, tracked, timing.cooldown_s)]
        return [event]

    def _on_miss(self, timing: RuleTiming, slot: Slot, tracked: TrackedFrame) -> list[Event]:
        subject = self._subjects[slot]
        ts = tracked.frame.wall_ts
        if subject.state is SubjectState.OPEN:
            subject.to(SubjectState.ENDING)
            subject.gone_since = ts
        if ts - subject.last_hit_ts < timing.end_after_s:
            return []
        return [self._end(subject, subject.gone_since, tracked, timing.cooldown_s)]

    def _end(
        self,
        subject: Subject,
        end_ts: float,
        tracked: TrackedFrame | None,
        cooldown_s: float,
        reason: str | None = None,
    ) -> Event:
        subject.to(SubjectState.COOLDOWN)
        end_ts = max(end_ts, subject.last.start_ts)
        subject.quiet_until = end_ts + cooldown_s
        subject.last = replace(
            self._message(subject.last, EventState.END, subject.hit, tracked, end_ts=end_ts), end_reason=reason
        )
        return subject.last

    def _forget(self, now: float) -> None:
        """Subjects in cooldown long enough ago go back to idle: dropped from memory."""
        if now - self._pruned_at < PRUNE_EVERY_S:
            return
        self._pruned_at = now
        horizon = now - ENDED_MEMORY_S
        stale = [
            slot
            for slot, subject in self._subjects.items()
            if subject.state is SubjectState.COOLDOWN
            and max(subject.last.end_ts or subject.last.start_ts, subject.quiet_until) < horizon
        ]
        for slot in stale:
            del self._subjects[slot]

    @staticmethod
    def _message(
        last: Event, state: EventState, hit: RuleHit, tracked: TrackedFrame | None, end_ts: float | None = None
    ) -> Event:
        observed = tracked.frame if tracked is not None else None
        return replace(
            last,
            seq=last.seq + 1,
            state=state,
            confidence=hit.confidence,
            bbox_xyxy=hit.bbox_xyxy,
            signal=hit.signal,
            end_ts=end_ts,
            observed_ts=observed.wall_ts if observed else last.observed_ts,
            frame_index=observed.index if observed else last.frame_index,
        )


def _camera_rules(camera: CameraConfig) -> list[tuple[Rule, RuleTiming]]:
    timings = [RuleTiming(c.cooldown_s, c.end_after_s, c.update_every_s) for c in camera.rules]
    return list(zip(build_rules(camera), timings))


def rule_signatures(camera: CameraConfig) -> dict[str, str]:
    """Each rule's settings with the zones it uses, as text: equal text, the same rule."""
    return {
        config.rule_name: json.dumps(
            [
                config.model_dump(mode="json"),
                {zone: camera.zones[zone].model_dump(mode="json") for zone in sorted(config.zones_used())},
            ],
            sort_keys=True,
        )
        for config in camera.rules
    }


def _changed(last: Event, hit: RuleHit) -> bool:
    if abs(hit.confidence - last.confidence) >= CONFIDENCE_CHANGE:
        return True
    iou = sv.box_iou_batch(np.array([last.bbox_xyxy]), np.array([hit.bbox_xyxy]))[0, 0]
    return bool(iou < BOX_CHANGE_IOU)
