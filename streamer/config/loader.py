"""Read a YAML config and report every problem with its YAML path and line, or return validated models."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from streamer.config.cameras import SourceKind
from streamer.config.defaults import SECTION as DEFAULTS
from streamer.config.defaults import apply_defaults
from streamer.config.env import Location, substitute_env
from streamer.config.root import StreamerConfig
from streamer.config.yaml_guard import duplicate_keys, scan
from streamer.redact import scrub


@dataclass(frozen=True)
class ConfigIssue:
    path: str
    message: str
    line: int | None = None

    def render(self, source: str) -> str:
        where = f"{source}:{self.line}" if self.line else source
        field = f"{self.path}: " if self.path else ""
        return scrub(f"{where}: {field}{self.message}")


class ConfigError(Exception):
    def __init__(self, source: str, issues: list[ConfigIssue]):
        self.source = source
        self.issues = issues
        super().__init__("\n".join(issue.render(source) for issue in issues))


ConfigCheck = Callable[[StreamerConfig], list[tuple[Location, str]]]
"""A check beyond the file itself (weights on disk, a GPU present): (YAML location, message) per problem. The
commands that need one pass it in; the loader adds the line."""


class _YamlLines:
    """Maps a pydantic/env location to the dotted YAML path and the line it is on."""

    def __init__(self, root: yaml.Node | None):
        self.root = root

    def locate(self, loc: Location) -> tuple[str, int | None]:
        path, line, _ = self._walk(loc)
        return path, line

    def _walk(self, loc: Location) -> tuple[str, int | None, int]:
        """The dotted path, the line, and how many steps of `loc` have a node in the file."""
        node, parts, line, found = self.root, [], None, 0
        for position, key in enumerate(loc):
            child, child_line = self._child(node, key)
            if child is not None:
                node, line, found = child, child_line, found + 1
                parts.append(f"[{key}]" if isinstance(key, int) else str(key))
            elif position == len(loc) - 1:
                parts.append(str(key))  # a missing field: name it, keep the parent's line
            # else: a pydantic-internal step (union tag, validator name) that has no YAML node
        return ".".join(parts).replace(".[", "["), line, found

    def issue(self, loc: Location, message: str) -> ConfigIssue:
        if len(loc) > 2 and loc[0] == "cameras":  # a value the camera may have taken from `defaults:`
            own_path, own_line, own_found = self._walk(loc)
            inherited_path, inherited_line, inherited_found = self._walk((DEFAULTS, *loc[2:]))
            if inherited_found - 1 > own_found - 2:  # deeper in `defaults` than in the camera's own keys
                return ConfigIssue(inherited_path, f"{message} {_INHERITED.format(loc[1])}", inherited_line)
            return ConfigIssue(own_path, message, own_line)
        path, line = self.locate(loc)
        return ConfigIssue(path, message, line)

    @staticmethod
    def _child(node: yaml.Node | None, key: str | int) -> tuple[yaml.Node | None, int | None]:
        """The child node and the line to show: a mapping entry's key line, a list item's own line."""
        if isinstance(node, yaml.MappingNode):
            for key_node, value in node.value:
                if key_node.value == str(key):
                    return value, key_node.start_mark.line + 1
        if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            return node.value[key], node.value[key].start_mark.line + 1
        return None, None


def parse_config_text(
    text: str, source: str, base_dir: Path, environ: Mapping[str, str] | None = None, checks: Sequence[ConfigCheck] = ()
) -> StreamerConfig:
    environ = os.environ if environ is None else environ
    problem = scan(text)
    if problem is not None:
        raise ConfigError(source, [ConfigIssue("", problem.message, problem.line)])
    try:
        root_node = yaml.compose(text, Loader=yaml.SafeLoader)
        tree = yaml.safe_load(text)
    except yaml.reader.ReaderError as error:  # a character YAML forbids: it says where as an offset, not a line
        line = text[: error.position].count("\n") + 1
        character = chr(error.character) if isinstance(error.character, int) else error.character
        issue = ConfigIssue(
            "", f"invalid YAML: the control character {character!r} is not allowed in a YAML file", line
        )
        raise ConfigError(source, [issue]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(
            source, [ConfigIssue("", f"invalid YAML: {problem}", mark.line + 1 if mark else None)]
        ) from None
    if not isinstance(tree, dict):
        raise ConfigError(source, [ConfigIssue("", "expected a mapping with a 'cameras' section at the top")])
    duplicates = [ConfigIssue(path, message, line) for path, message, line in duplicate_keys(root_node)]
    if duplicates:
        raise ConfigError(source, duplicates)
    lines = _YamlLines(root_node)
    tree, missing_env = substitute_env(tree, environ)
    tree, bad_defaults = apply_defaults(tree)
    issues = [lines.issue(loc, message) for loc, message in missing_env + bad_defaults]
    if issues:
        raise ConfigError(source, issues)
    try:
        config = StreamerConfig.model_validate(tree)
    except ValidationError as error:
        found = [_issue_from_pydantic(item, lines) for item in error.errors()]
        raise ConfigError(source, _once_per_default(found)) from None
    config = _resolve_paths(config, base_dir)
    extra = [lines.issue(loc, message) for check in checks for loc, message in check(config)]
    if extra:
        raise ConfigError(source, extra)
    return config


def load_config(
    path: str | Path, environ: Mapping[str, str] | None = None, checks: Sequence[ConfigCheck] = ()
) -> StreamerConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(str(path), [ConfigIssue("", f"cannot read the config: {error.strerror or error}")]) from None
    except UnicodeDecodeError as error:
        line = error.object[: error.start].count(b"\n") + 1
        raise ConfigError(
            str(path),
            [ConfigIssue("", f"cannot read the config: not utf-8 text (byte {error.object[error.start]:#04x})", line)],
        ) from None
    return parse_config_text(text, str(path), path.resolve().parent, environ, checks)


_INHERITED = "(inherited by camera '{}')"


def _once_per_default(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    """A bad value in `defaults:` is one issue naming every camera that inherits it, not one per camera."""
    merged: dict[tuple, list[str]] = {}
    for issue in issues:
        message, camera = issue.message, None
        head, marker, rest = message.rpartition(" (inherited by camera '")
        if marker and rest.endswith("')"):
            message, camera = head, rest[:-2]
        cameras = merged.setdefault((issue.path, message, issue.line), [])
        if camera is not None:
            cameras.append(camera)
    out = []
    for (path, message, line), cameras in merged.items():
        if cameras:
            named = ", ".join(f"'{c}'" for c in cameras)
            message = f"{message} (inherited by camera{'s' if len(cameras) > 1 else ''} {named})"
        out.append(ConfigIssue(path, message, line))
    return out


def _issue_from_pydantic(item: Mapping[str, Any], lines: _YamlLines) -> ConfigIssue:
    loc, message = tuple(item["loc"]), str(item["msg"]).removeprefix("Value error, ")
    if item["type"] == "extra_forbidden":
        message = "unknown key (not allowed here; check the spelling)"
    field = (item.get("ctx") or {}).get("field")
    if isinstance(field, str):  # raised for the whole model (ours only); the field it is about is in the context
        loc = (*loc, field)
    if loc and loc[-1] == "[key]":  # pydantic's marker for a bad mapping key, such as a camera name
        loc, message = loc[:-1], f"invalid name: {message}"
    return lines.issue(loc, message)


def _resolve_paths(config: StreamerConfig, base_dir: Path) -> StreamerConfig:
    """Relative paths in the YAML are relative to the config file's folder, wherever the service is started."""

    def absolute(path: Path) -> Path:
        return path if path.is_absolute() else (base_dir / path).resolve()

    cameras = {
        name: cam.with_url(str(absolute(cam.file_path()))) if cam.kind is SourceKind.FILE else cam
        for name, cam in config.cameras.items()
    }
    update = {
        "storage_dir": absolute(config.storage_dir),
        "models_dir": absolute(config.models_dir),
        "cameras": cameras,
    }
    vlm = config.vlm
    if vlm is not None and vlm.scripted is not None:
        scripted = vlm.scripted.model_copy(update={"responses": absolute(vlm.scripted.responses)})
        vlm = vlm.model_copy(update={"scripted": scripted})
    if vlm is not None and vlm.transformers.adapter is not None:
        adapted = vlm.transformers.model_copy(update={"adapter": absolute(vlm.transformers.adapter)})
        vlm = vlm.model_copy(update={"transformers": adapted})
    if vlm is not None:
        update["vlm"] = vlm
    return config.model_copy(update=update)
