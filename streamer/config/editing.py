"""Writing a camera's zones, motion masks and rules back into the YAML file, as the console's zone editor saves
them: a round trip through ruamel.yaml, so every comment, the key order and the layout of everything else stay
as the person who wrote the file left them. The new text is checked exactly as the loader checks a file before
it replaces the old one (atomically: a running `streamer run` never reads half a file)."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from streamer.config.loader import ConfigCheck, parse_config_text
from streamer.config.root import StreamerConfig


class EditRefused(ValueError):
    """The camera is not in the file as its own entry (only the loader's view of it exists)."""


def _yaml() -> YAML:
    yaml = YAML()  # round trip
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long line the person wrote on one
    return yaml


def _flow(items: Sequence) -> CommentedSeq:
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


def _polygon(points: Sequence[Sequence[float]]) -> CommentedSeq:
    return _flow([_flow([_number(x), _number(y)]) for x, y in points])


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(float(value), 1)


def _rule(rule: Mapping[str, Any]) -> CommentedMap:
    out = CommentedMap()
    for key, value in rule.items():
        if key in ("start", "end") and isinstance(value, list | tuple):
            out[key] = _flow([_number(v) for v in value])
        elif isinstance(value, list):
            out[key] = _flow(list(value))
        else:
            out[key] = value
    out.fa.set_flow_style()
    return out


def edited_text(
    text: str,
    camera: str,
    zones: Mapping[str, Sequence[Sequence[float]]],
    masks: Sequence[Sequence[Sequence[float]]],
    rules: Sequence[Mapping[str, Any]],
) -> str:
    """The file's text with `camera`'s own zones, motion masks and rules replaced; nothing else changes."""
    yaml = _yaml()
    tree = yaml.load(text)
    try:
        entry = tree["cameras"][camera]
    except (KeyError, TypeError):
        raise EditRefused(f"camera '{camera}' is not written in the file") from None
    if not isinstance(entry, CommentedMap):
        raise EditRefused(f"cameras.{camera} is not a mapping in the file")
    if zones:
        entry["zones"] = CommentedMap((name, CommentedMap(polygon=_polygon(points))) for name, points in zones.items())
    else:
        entry.pop("zones", None)
    if rules:
        entry["rules"] = CommentedSeq([_rule(rule) for rule in rules])
    else:
        entry.pop("rules", None)
    detect = entry.get("detect")
    motion = detect.get("motion") if isinstance(detect, CommentedMap) else None
    if masks:
        if detect is None:
            entry["detect"] = detect = CommentedMap()
        if motion is None:
            detect["motion"] = motion = CommentedMap()
        motion["masks"] = CommentedSeq([_polygon(mask) for mask in masks])
    elif isinstance(motion, CommentedMap):
        motion.pop("masks", None)
    out = io.StringIO()
    yaml.dump(tree, out)
    return out.getvalue()


def save_checked(path: Path, text: str, checks: Sequence[ConfigCheck] = ()) -> StreamerConfig:
    """Check `text` as the loader would (ConfigError when it does not load), then put it in place of the file."""
    config = parse_config_text(text, str(path), path.resolve().parent, os.environ, checks)
    aside = path.with_name(f".{path.name}.saving")
    aside.write_text(text, encoding="utf-8")
    os.replace(aside, path)
    return config
