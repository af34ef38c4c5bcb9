"""Crowding: more than `max_count` objects of the listed classes inside a zone for at least `min_duration_s`."""

from __future__ import annotations

import numpy as np

from pipelines.kind import RuleKind
from pipelines.rule import RuleHit, RunTimer, of_classes
from pipelines.zone_intrusion import polygon_zone
from streamer.config.cameras import ZoneConfig
from streamer.config.rules import CountRuleConfig
from streamer.frame import TrackedFrame


class CountRule:
    event_type = "count"

    def __init__(self, config: CountRuleConfig, zones: dict[str, ZoneConfig]):
        self.name = config.rule_name
        self.config = config
        self._zone = polygon_zone(zones[config.zone])
        self._over = RunTimer(config.end_after_s)
        self._key = f"zone:{config.zone}"

    @classmethod
    def from_config(cls, config: CountRuleConfig, zones: dict[str, ZoneConfig]) -> "CountRule":
        return cls(config, zones)

    def evaluate(self, tracked: TrackedFrame) -> list[RuleHit]:
        ts = tracked.frame.wall_ts
        candidates = of_classes(tracked.detections, self.config.classes)
        inside = candidates[self._zone.trigger(candidates)] if len(candidates) else candidates
        over = len(inside) > self.config.max_count
        since = self._over.observe(self._key, ts) if over else None
        self._over.forget_stale(ts)
        if since is None or ts - since < self.config.min_duration_s:
            return []
        x1, y1 = inside.xyxy[:, :2].min(axis=0)
        x2, y2 = inside.xyxy[:, 2:].max(axis=0)
        names = sorted(set(np.asarray(inside.data["class_name"], dtype=str)))
        confidence = float(np.mean(inside.confidence)) if inside.confidence is not None else 1.0
        return [
            RuleHit(
                key=self._key,
                label=",".join(names),
                track_id=None,
                since_ts=since,
                confidence=confidence,
                bbox_xyxy=(float(x1), float(y1), float(x2), float(y2)),
                signal=f"count>{self.config.max_count}:{len(inside)}",
                zone=self.config.zone,
            )
        ]


KIND = RuleKind(
    rule=CountRule,
    config=CountRuleConfig,
    question="Are there more {label}s in the area than allowed in this clip?",
    match_sentences=("too many {label}s were in the {zone} zone at once",),
    answer="Too many {label}s were in zone {zone}",
)
