"""Loitering: an object inside a zone longer than `min_dwell_s` (a zone intrusion with patience)."""

from __future__ import annotations

from pipelines.rule_configs import DwellRuleConfig
from pipelines.zone_intrusion import ZonePresenceRule
from streamer.config.cameras import ZoneConfig


class DwellRule(ZonePresenceRule):
    event_type = "dwell"

    @classmethod
    def from_config(cls, config: DwellRuleConfig, zones: dict[str, ZoneConfig]) -> "DwellRule":
        return cls(config.rule_name, config.zone, zones[config.zone], config.classes, config.min_dwell_s, config.end_after_s)
