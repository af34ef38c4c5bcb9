"""The closed set of rule types the YAML may name, as one discriminated union."""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from pipelines.rule_configs import (
    CountRuleConfig,
    DwellRuleConfig,
    FallRuleConfig,
    LineCrossingRuleConfig,
    ZoneIntrusionRuleConfig,
)

RuleConfig = Annotated[
    Union[FallRuleConfig, ZoneIntrusionRuleConfig, DwellRuleConfig, LineCrossingRuleConfig, CountRuleConfig],
    Field(discriminator="type"),
]
