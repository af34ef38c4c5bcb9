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
        node, parts, line = self.root, [], None
        for position, key in enumerate(loc):
            child, child_line = self._child(node, key)
            if child is not None:
                node, line = child, child_line
                parts.append(f"[{key}]" if isinstance(key, int) else str(key))
            elif position == len(loc) - 1:
                parts.append(str(key))  # a missing field: name it, keep the parent's line
            # else: a pydantic-internal step (union tag, validator name) that has no YAML node
        return ".".join(parts).replace(".[", "["), line

    def issue(self, loc: Location, message: str) -> ConfigIssue:
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


def parse_config_text(text: str, source: str, base_dir: Path, environ: Mapping[str, str] | None = None,
                      checks: Sequence[ConfigCheck] = ()) -> StreamerConfig:
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
        issue = ConfigIssue("", f"invalid YAML: the control character {character!r} is not allowed in a YAML file", line)
        raise ConfigError(source, [issue]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(source, [ConfigIssue("", f"invalid YAML: {problem}", mark.line + 1 if mark else None)]) from None
    if not isinstance(tree, dict):
        raise ConfigError(source, [ConfigIssue("", "expected a mapping with a 'cameras' section at the top")])
    duplicates = [ConfigIssue(path, message, line) for path, message, line in duplicate_keys(root_node)]
    if duplicates:
        raise ConfigError(source, duplicates)
    lines = _YamlLines(root_node)
    tree, missing_env = substitute_env(tree, environ)
    issues = [lines.issue(loc, message) for loc, message in missing_env]
    if issues:
        raise ConfigError(source, issues)
    try:
        config = StreamerConfig.model_validate(tree)
    except ValidationError as error:
        raise ConfigError(source, [_issue_from_pydantic(item, lines) for item in error.errors()]) from None
    config = _resolve_paths(config, base_dir)
    extra = [lines.issue(loc, message) for check in checks for loc, message in check(config)]
    if extra:
        raise ConfigError(source, extra)
    return config


def load_config(path: str | Path, environ: Mapping[str, str] | None = None,
                checks: Sequence[ConfigCheck] = ()) -> StreamerConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(str(path), [ConfigIssue("", f"cannot read the config: {error.strerror or error}")]) from None
    except UnicodeDecodeError as error:
        line = error.object[: error.start].count(b"\n") + 1
        raise ConfigError(str(path), [ConfigIssue("", f"cannot read the config: not utf-8 text (byte {error.object[error.start]:#04x})", line)]) from None
    return parse_config_text(text, str(path), path.resolve().parent, environ, checks)


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
    update = {"storage_dir": absolute(config.storage_dir), "models_dir": absolute(config.models_dir), "cameras": cameras}
    vlm = config.vlm
    if vlm is not None and vlm.scripted is not None:
        scripted = vlm.scripted.model_copy(update={"responses": absolute(vlm.scripted.responses)})
        update["vlm"] = vlm.model_copy(update={"scripted": scripted})
    return config.model_copy(update=update)
