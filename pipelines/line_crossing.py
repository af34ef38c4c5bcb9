"""Line crossing with direction (supervision `LineZone`): one instant event per crossing track."""

from __future__ import annotations

import numpy as np
import supervision as sv

from pipelines.kind import RuleKind
from pipelines.rule import RuleHit, box_of, class_name, confidence_of, of_classes, track_key
from streamer.config.cameras import ZoneConfig
from streamer.config.rules import LineCrossingRuleConfig
from streamer.frame import TrackedFrame


class LineCrossingRule:
    event_type = "line_crossing"

    def __init__(self, config: LineCrossingRuleConfig):
        self.name = config.rule_name
        self.config = config
        # the bottom centre is where a person stands: the crossing time is when their feet pass the line
        self._line = sv.LineZone(
            start=sv.Point(*config.start), end=sv.Point(*config.end), triggering_anchors=(sv.Position.BOTTOM_CENTER,)
        )

    @classmethod
    def from_config(cls, config: LineCrossingRuleConfig, zones: dict[str, ZoneConfig]) -> "LineCrossingRule":
        return cls(config)

    def evaluate(self, tracked: TrackedFrame) -> list[RuleHit]:
        candidates = of_classes(tracked.detections, self.config.classes)
        if not len(candidates):
            return []
        crossed_in, crossed_out = self._line.trigger(candidates)
        wanted = {"in": crossed_in, "out": crossed_out, "both": crossed_in | crossed_out}[self.config.direction]
        hits = []
        for index in np.flatnonzero(wanted):
            track_id = int(candidates.tracker_id[index])
            hits.append(
                RuleHit(
                    key=track_key(track_id),
                    label=class_name(candidates, index),
                    track_id=track_id,
                    since_ts=tracked.frame.wall_ts,
                    confidence=confidence_of(candidates, index),
                    bbox_xyxy=box_of(candidates, index),
                    signal="crossed_in" if crossed_in[index] else "crossed_out",
                    instant=True,
                )
            )
        return hits


KIND = RuleKind(
    rule=LineCrossingRule,
    config=LineCrossingRuleConfig,
    question="Does a {label} cross the monitored line in this clip?",
    match_sentences=("a {label} crossed the line {rule}",),
    answer="{a_label} crossed line {rule}",
)
