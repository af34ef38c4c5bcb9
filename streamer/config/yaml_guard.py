"""A config file is read safely whatever it holds: bounded size and nesting, aliases counted against a budget
(a 1 KB alias bomb expands to gigabytes), duplicate keys and NUL characters refused, each with its line. The
checks run on PyYAML's event stream, which is not recursive, before anything is built from the text."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

MAX_BYTES = 1 << 20  # a camera config is kilobytes; a megabyte is a mistake or an attack
MAX_DEPTH = 64
MAX_NODES = 200_000  # counting every alias as the copy it becomes


@dataclass(frozen=True)
class YamlProblem:
    message: str
    line: int | None


def scan(text: str) -> YamlProblem | None:
    """The first reason the text must not be composed, or None."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        return YamlProblem(f"the file is larger than {MAX_BYTES // 1024} KiB", None)
    depth, nodes = 0, 0
    anchors: dict[str, int] = {}  # anchor → nodes it stands for
    open_anchors: list[tuple[str | None, int]] = []  # collections being read: (anchor, node count at their start)
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            line = event.start_mark.line + 1
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                nodes += 1
                if depth > MAX_DEPTH:
                    return YamlProblem(f"nested deeper than {MAX_DEPTH} levels", line)
                open_anchors.append((event.anchor, nodes))
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
                anchor, started = open_anchors.pop()
                if anchor is not None:
                    anchors[anchor] = nodes - started + 1
            elif isinstance(event, yaml.ScalarEvent):
                nodes += 1
                if "\x00" in event.value:
                    return YamlProblem("a NUL character in a value", line)
                if event.anchor is not None:
                    anchors[event.anchor] = 1
            elif isinstance(event, yaml.AliasEvent):
                nodes += anchors.get(event.anchor, 1)
            if nodes > MAX_NODES:
                return YamlProblem(f"more than {MAX_NODES} values once aliases are expanded (an alias bomb?)", line)
    except yaml.YAMLError:
        return None  # a syntax error: composing reports it with its line
    return None


def duplicate_keys(node: yaml.Node | None, path: str = "") -> list[tuple[str, str, int]]:
    """(path, message, line) for every key that a mapping repeats; PyYAML would keep the last one silently."""
    found: list[tuple[str, str, int]] = []
    stack = [(node, path)]
    while stack:
        current, where = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value in current.value:
                key = str(key_node.value)
                line = key_node.start_mark.line + 1
                child = f"{where}.{key}" if where else key
                if key in seen and key != "<<":
                    found.append((child, f"duplicate key '{key}' (first on line {seen[key]}); remove one", line))
                seen.setdefault(key, line)
                stack.append((value, child))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((item, f"{where}[{index}]") for index, item in enumerate(current.value))
    return sorted(found, key=lambda item: item[2])
