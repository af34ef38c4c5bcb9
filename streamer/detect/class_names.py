"""The class names a weights file knows, remembered beside the export cache the first time the engine loads it.

Reading them from a `.pt` takes torch and a second or two; the config loader wants them in milliseconds, to name an
unknown class in `classes:` before anything starts. So the engine writes them down once per weights content, and the
loader checks against them when they are there ("when the model is known"); the engine checks again at load.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from streamer.assets import content_id


def names_file(weights: Path, cache_dir: Path) -> Path:
    return cache_dir / "names" / f"{weights.stem}-{content_id(weights)[:12]}.json"


def remember_names(weights: Path, cache_dir: Path, names: Mapping[int, str]) -> None:
    target = names_file(weights, cache_dir)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps({str(k): v for k, v in names.items()}))
        partial.replace(target)  # atomic: a reader never sees half a file
    except OSError:
        pass  # only a shortcut for the config check; the engine checks the classes itself


def known_names(weights: Path, cache_dir: Path) -> list[str] | None:
    """The model's class names, or None when this weights file has not been loaded here yet."""
    if not weights.is_file():
        return None
    try:
        names = json.loads(names_file(weights, cache_dir).read_text())
    except (OSError, ValueError):
        return None
    return [str(name) for _, name in sorted(((int(k), v) for k, v in names.items()))]


def unknown_classes(requested: list[str], names: list[str]) -> list[str]:
    known = {name.lower() for name in names}
    return [name for name in requested if name.lower() not in known]
