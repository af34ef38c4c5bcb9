"""Loitering: an object inside a zone longer than `min_dwell_s` (a zone intrusion with patience)."""

from __future__ import annotations

from pipelines.kind import RuleKind
from pipelines.zone_intrusion import ZonePresenceRule
from streamer.config.cameras import ZoneConfig
from streamer.config.rules import DwellRuleConfig


class DwellRule(ZonePresenceRule):
    event_type = "dwell"

    @classmethod
    def from_config(cls, config: DwellRuleConfig, zones: dict[str, ZoneConfig]) -> "DwellRule":
        return cls(
            config.rule_name, config.zone, zones[config.zone], config.classes, config.min_dwell_s, config.end_after_s
        )


KIND = RuleKind(
    rule=DwellRule,
    config=DwellRuleConfig,
    question="Does a {label} stay (loiter) in the same area for a long time in this clip?",
    match_sentences=("a {label} stayed in the {zone} zone for a long time, loitering",),
    answer="{a_label} lingered in zone {zone}",
)
