"""`${NAME}` substitution in every string of the YAML tree; unknown names are errors, not empty strings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
Location = tuple[str | int, ...]


def substitute_env(tree: Any, environ: Mapping[str, str]) -> tuple[Any, list[tuple[Location, str]]]:
    """Return the tree with references replaced, and (location, message) for each unknown name."""
    missing: list[tuple[Location, str]] = []

    def visit(node: Any, loc: Location) -> Any:
        if isinstance(node, dict):
            return {key: visit(value, (*loc, key)) for key, value in node.items()}
        if isinstance(node, list):
            return [visit(value, (*loc, index)) for index, value in enumerate(node)]
        if isinstance(node, str):
            return _REFERENCE.sub(lambda match: lookup(match, loc), node)
        return node

    def lookup(match: re.Match[str], loc: Location) -> str:
        name = match[1]
        if name not in environ:
            missing.append((loc, f"environment variable ${{{name}}} is not set"))
            return match[0]
        return environ[name]

    return visit(tree, ()), missing
