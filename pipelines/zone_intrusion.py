"""Zone intrusion: an object of the listed classes inside a polygon zone for at least `min_inside_s`."""

from __future__ import annotations

import numpy as np
import supervision as sv

from pipelines.kind import RuleKind
from pipelines.rule import RuleHit, RunTimer, box_of, class_name, confidence_of, of_classes, track_key
from streamer.config.cameras import ZoneConfig
from streamer.config.rules import ZoneIntrusionRuleConfig
from streamer.frame import TrackedFrame


def polygon_zone(zone: ZoneConfig) -> sv.PolygonZone:
    """An object is in the zone when the middle of its box's bottom edge is: that is where it stands."""
    return sv.PolygonZone(np.array(zone.polygon, dtype=np.int64), triggering_anchors=(sv.Position.BOTTOM_CENTER,))


class ZonePresenceRule:
    """Fires per track once it has been inside the zone for `min_s`; the event starts at the entry."""

    event_type = "zone_intrusion"

    def __init__(self, name: str, zone_name: str, zone: ZoneConfig, classes: list[str], min_s: float, gap_s: float):
        self.name = name
        self.zone_name = zone_name
        self.classes = classes
        self.min_s = min_s
        self._zone = polygon_zone(zone)
        self._inside = RunTimer(gap_s)

    def evaluate(self, tracked: TrackedFrame) -> list[RuleHit]:
        ts = tracked.frame.wall_ts
        candidates = of_classes(tracked.detections, self.classes)
        hits = []
        if len(candidates):
            inside = self._zone.trigger(candidates)
            for index in np.flatnonzero(inside):
                track_id = int(candidates.tracker_id[index])
                since = self._inside.observe(track_key(track_id), ts)
                if ts - since >= self.min_s:
                    hits.append(
                        RuleHit(
                            key=track_key(track_id),
                            label=class_name(candidates, index),
                            track_id=track_id,
                            since_ts=since,
                            confidence=confidence_of(candidates, index),
                            bbox_xyxy=box_of(candidates, index),
                            signal="inside",
                            zone=self.zone_name,
                        )
                    )
        self._inside.forget_stale(ts)
        return hits


class ZoneIntrusionRule(ZonePresenceRule):
    @classmethod
    def from_config(cls, config: ZoneIntrusionRuleConfig, zones: dict[str, ZoneConfig]) -> "ZoneIntrusionRule":
        return cls(
            config.rule_name, config.zone, zones[config.zone], config.classes, config.min_inside_s, config.end_after_s
        )


KIND = RuleKind(
    rule=ZoneIntrusionRule,
    config=ZoneIntrusionRuleConfig,
    question="Does a {label} enter or stay inside the restricted area in this clip? "
    "The detector's box marks the {label} it flagged.",
    match_sentences=("a {label} entered the {zone} zone",),
    answer="{a_label} entered zone {zone}",
)
