"""Typed parameters of each rule type, as written under a camera's `rules:` in the YAML, and their union.

Configuration only: the rules themselves (tracks → events) live in `pipelines/` and import these, never the
reverse. A new rule type is one module in `pipelines/` plus one config model here (added to `RuleConfig`),
and one line in `pipelines.registry` mapping the model to the rule.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from streamer.config.base import Point, StrictModel


class _RuleBase(StrictModel):
    name: str | None = Field(
        None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$", description="Shown in alerts; defaults to the rule type."
    )
    cooldown_s: float = Field(
        30.0,
        ge=0,
        le=86_400,
        description="After an event ends, the same rule and track (or zone) stay quiet this long.",
    )
    end_after_s: float = Field(
        2.0, ge=0, le=3600, description="Condition gone (or track lost) this long ends the event."
    )
    update_every_s: float = Field(
        5.0,
        gt=0,
        le=3600,
        description="At most one 'update' per event this often, and only when its box or confidence changed.",
    )

    @property
    def rule_name(self) -> str:
        return self.name or self.type  # type: ignore[attr-defined]

    def zones_used(self) -> tuple[str, ...]:
        return ()

    def models_used(self) -> dict[str, str]:
        """The `detect.extra_models` keys this rule reads, by the field naming each (the camera checks them)."""
        return {}

    def models_behind(self, signal: str) -> tuple[str, ...]:
        """The extra models whose output raised an event with this `signal` (named in its alert)."""
        return ()

    def points(self) -> tuple[tuple[float, float], ...]:
        """Pixel points of its own (a line's ends), checked against the frame like the zones'."""
        return ()


class FallRuleConfig(_RuleBase):
    type: Literal["fall"]
    classes: list[str] = Field(default_factory=lambda: ["person"], min_length=1)
    min_down_s: float = Field(1.0, gt=0, le=600, description="Must stay down at least this long.")
    aspect_ratio_down: float = Field(1.0, gt=0, le=10, description="width / height above this counts as lying.")
    top_drop_ratio: float = Field(
        0.3, gt=0, le=1, description="Top edge must drop by this share of the standing height."
    )
    fall_model: str | None = Field(None, description="Key of detect.extra_models whose class `fall_class` also fires.")
    fall_class: str = Field("Fall", min_length=1)
    history_s: float = Field(5.0, gt=0, le=60, description="How far back a track's boxes are kept to find it standing.")

    def models_used(self) -> dict[str, str]:
        return {"fall_model": self.fall_model} if self.fall_model else {}

    def models_behind(self, signal: str) -> tuple[str, ...]:
        return (self.fall_model,) if self.fall_model and "fall_model" in signal.split("+") else ()


class ZoneIntrusionRuleConfig(_RuleBase):
    type: Literal["zone_intrusion"]
    zone: str
    classes: list[str] = Field(default_factory=lambda: ["person"], min_length=1)
    min_inside_s: float = Field(0.0, ge=0, le=3600)

    def zones_used(self) -> tuple[str, ...]:
        return (self.zone,)


class DwellRuleConfig(_RuleBase):
    type: Literal["dwell"]
    zone: str
    classes: list[str] = Field(default_factory=lambda: ["person"], min_length=1)
    min_dwell_s: float = Field(30.0, gt=0, le=86_400)

    def zones_used(self) -> tuple[str, ...]:
        return (self.zone,)


class LineCrossingRuleConfig(_RuleBase):
    type: Literal["line_crossing"]
    start: Point
    end: Point
    direction: Literal["in", "out", "both"] = Field(
        "both",
        description="supervision's sides: for a line drawn from top (start) to bottom (end), "
        "'in' is left → right on screen.",
    )
    classes: list[str] = Field(default_factory=lambda: ["person"], min_length=1)

    def points(self) -> tuple[tuple[float, float], ...]:
        return (self.start, self.end)

    @model_validator(mode="after")
    def _not_a_point(self) -> "LineCrossingRuleConfig":
        if self.start == self.end:
            raise ValueError("line start and end are the same point")
        return self


class CountRuleConfig(_RuleBase):
    type: Literal["count"]
    zone: str
    classes: list[str] = Field(default_factory=lambda: ["person"], min_length=1)
    max_count: int = Field(ge=0, le=10_000, description="More than this many objects inside fires.")
    min_duration_s: float = Field(0.0, ge=0, le=3600)

    def zones_used(self) -> tuple[str, ...]:
        return (self.zone,)


RuleConfig = Annotated[
    Union[FallRuleConfig, ZoneIntrusionRuleConfig, DwellRuleConfig, LineCrossingRuleConfig, CountRuleConfig],
    Field(discriminator="type"),
]
