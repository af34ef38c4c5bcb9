"""Which rule each config model builds. A new rule type is a module in `pipelines/`, its config model in
`streamer.config.rules`, and one line here."""

from __future__ import annotations

from pipelines.rule import Rule
from streamer.config.cameras import CameraConfig
from streamer.config.rules import (
    CountRuleConfig,
    DwellRuleConfig,
    FallRuleConfig,
    LineCrossingRuleConfig,
    ZoneIntrusionRuleConfig,
)


def _rule_classes() -> dict[type, type]:
    # imported here: loading a config must not pull in supervision and numpy for every CLI command
    from pipelines.count import CountRule
    from pipelines.dwell import DwellRule
    from pipelines.fall import FallRule
    from pipelines.line_crossing import LineCrossingRule
    from pipelines.zone_intrusion import ZoneIntrusionRule

    return {
        FallRuleConfig: FallRule,
        ZoneIntrusionRuleConfig: ZoneIntrusionRule,
        DwellRuleConfig: DwellRule,
        LineCrossingRuleConfig: LineCrossingRule,
        CountRuleConfig: CountRule,
    }


def build_rules(camera: CameraConfig) -> list[Rule]:
    classes = _rule_classes()
    zones = dict(camera.zones)
    return [classes[type(config)].from_config(config, zones) for config in camera.rules]
