"""The code blocks of README.md and docs/*.md, and what each is marked to be (an HTML comment on the line before
its fence, invisible when the page is rendered):

    <!-- run -->                 run it (bash, or python) in the demo's folder; it must exit 0
    <!-- run: until=6 -->        a command that runs until stopped: still running after 6 s (then Ctrl-C), having
                                 printed something and no traceback or ERROR
    <!-- run: with=redis -->     the example config's embedded Redis is served while it runs (`streamer redis serve`)
    <!-- output -->              (before a text block) what the run block before it prints: every line in order,
                                 `…` standing for any text
    <!-- config -->              (before a yaml block) a config, or a part of one, that the loader must accept
    <!-- syntax: WHY -->         needs what a test cannot have (a camera, a GPU, Docker, the set-up itself):
                                 only parsed (bash -n, compile, YAML)

Every bash, sh, python and yaml block must be marked one way or another: a new block cannot slip in untested.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

MARKED_LANGUAGES = ("bash", "sh", "python", "yaml")
_MARKER = re.compile(r"^<!--\s*(run|output|config|syntax)\s*(?::\s*(.*?))?\s*-->\s*$")
_FENCE = re.compile(r"^(\s*)```\s*([A-Za-z0-9_+-]*)\s*$")


@dataclass(frozen=True)
class Block:
    page: str
    line: int  # of the opening fence, 1-based
    language: str
    text: str
    kind: str | None  # run | output | config | syntax | None (unmarked)
    options: dict[str, str] = field(default_factory=dict)
    expected: "Block | None" = None  # the output block that follows a run block

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def _options(raw: str | None, kind: str) -> dict[str, str]:
    if not raw:
        return {}
    if kind == "syntax":
        return {"why": raw}
    return dict(part.split("=", 1) if "=" in part else (part, "") for part in raw.split())


def blocks_of(path: Path, page: str) -> list[Block]:
    lines = path.read_text().splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, language = opening.groups()
        marker = _MARKER.match(lines[index - 1].strip()) if index else None
        body = []
        index += 1
        while index < len(lines) and lines[index].strip() != "```":
            body.append(lines[index][len(indent) :] if lines[index].startswith(indent) else lines[index])
            index += 1
        kind = marker.group(1) if marker else None
        options = _options(marker.group(2), kind) if marker else {}
        block = Block(page, index - len(body), language.lower(), "\n".join(body) + "\n", kind, options)
        if kind == "output" and found and found[-1].kind == "run":
            found[-1] = Block(**{**found[-1].__dict__, "expected": block})
        else:
            found.append(block)
        index += 1
    return found


def output_matches(expected: str, actual: str) -> str | None:
    """None when every expected line matches a line of `actual`, in order (`…` is any text); else what is missing."""
    actual_lines = [line.rstrip() for line in actual.splitlines()]
    position = 0
    for wanted in (line.rstrip() for line in expected.splitlines()):
        if not wanted.strip():
            continue
        pattern = re.compile("^" + ".*".join(re.escape(part) for part in wanted.split("…")) + "$")
        while position < len(actual_lines) and not pattern.match(actual_lines[position]):
            position += 1
        if position == len(actual_lines):
            return wanted
        position += 1
    return None
