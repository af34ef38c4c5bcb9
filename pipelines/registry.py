"""The closed set of rule types the YAML may name: their config models (one discriminated union) and the
rule class each one builds. A new rule type is a module in `pipelines/`, a config model, and one line here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Union

from pydantic import Field

from pipelines.rule_configs import (
    CountRuleConfig,
    DwellRuleConfig,
    FallRuleConfig,
    LineCrossingRuleConfig,
    ZoneIntrusionRuleConfig,
)

if TYPE_CHECKING:
    from pipelines.rule import Rule
    from streamer.config.cameras import CameraConfig

RuleConfig = Annotated[
    Union[FallRuleConfig, ZoneIntrusionRuleConfig, DwellRuleConfig, LineCrossingRuleConfig, CountRuleConfig],
    Field(discriminator="type"),
]


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


def build_rules(camera: "CameraConfig") -> list["Rule"]:
    classes = _rule_classes()
    zones = dict(camera.zones)
    return [classes[type(config)].from_config(config, zones) for config in camera.rules]
