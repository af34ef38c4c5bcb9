"""No module of streamer or pipelines imports, directly or through others, a module that imports it back: the
layer contract (import-linter) keeps packages one way, this keeps files one way inside them. Imports inside
functions count too. Prints each cycle's modules and exits 1 when there is one (`make test` runs it)."""

from __future__ import annotations

import sys

import grimp

PACKAGES = ("streamer", "pipelines")


def cycles(graph) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module."""
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in graph.modules:
                continue
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def main() -> int:
    found = cycles(grimp.build_graph(*PACKAGES))
    for component in found:
        print(f"import cycle between {len(component)} modules: {', '.join(component)}")
    if not found:
        print(f"no import cycle between the modules of {', '.join(PACKAGES)}")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
