"""Every rule module's `KIND` (pipelines/kind.py), found by looking: a new rule type is a module in `pipelines/`
that declares its kind, and its config model in `streamer.config.rules`' union. Nothing else lists the types."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

import pipelines
from pipelines.kind import RuleKind
from pipelines.rule import Rule
from streamer.config.cameras import CameraConfig


@cache
def kinds() -> dict[str, RuleKind]:
    """By event type. The modules are imported on first use: loading a config must not pull in supervision and
    numpy for every CLI command."""
    found: dict[str, RuleKind] = {}
    for module in pkgutil.iter_modules(pipelines.__path__):
        kind = getattr(importlib.import_module(f"pipelines.{module.name}"), "KIND", None)
        if isinstance(kind, RuleKind):
            if kind.event_type in found:
                raise RuntimeError(f"two rule modules declare event type {kind.event_type!r}")
            found[kind.event_type] = kind
    return found


def kind_of(event_type: str) -> RuleKind | None:
    return kinds().get(event_type)


def build_rules(camera: CameraConfig) -> list[Rule]:
    by_config = {kind.config: kind for kind in kinds().values()}
    zones = dict(camera.zones)
    return [by_config[type(config)].rule.from_config(config, zones) for config in camera.rules]
