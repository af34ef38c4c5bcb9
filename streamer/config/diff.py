"""What changes between two validated configs, as a running `streamer run` applies it: cameras added, removed
(or switched off) and changed (each with the keys that differ), integrations changed (each restarted alone), and
the other sections, which a running service cannot take without a restart (Redis, storage, the engine…).
`streamer validate-config` prints the same."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamer.config.root import StreamerConfig

# top-level keys a running service takes in place: the cameras (each started, stopped, changed in place or restarted
# alone) and the integrations (each restarted alone)
IN_PLACE = frozenset({"cameras", "integrations", "version"})
# a camera's keys its running worker takes without a restart (runtime/control.py)
CAMERA_IN_PLACE = ("zones", "rules", "detect.motion.masks")


@dataclass(frozen=True)
class CameraChange:
    camera: str
    keys: tuple[str, ...]  # dotted paths that differ, e.g. detect.fps, zones.door

    @property
    def in_place(self) -> bool:
        """Only zones, rules and motion masks: the running worker takes them, no frame lost."""
        return bool(self.keys) and all(
            any(key == prefix or key.startswith(f"{prefix}.") for prefix in CAMERA_IN_PLACE) for key in self.keys
        )


@dataclass(frozen=True)
class ConfigChanges:
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[CameraChange, ...] = ()
    restart_needed: tuple[str, ...] = field(default=())  # top-level sections that differ
    integrations: tuple[str, ...] = ()  # integrations added, removed or changed

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.restart_needed or self.integrations)

    def lines(self) -> list[str]:
        out = [f"camera added: {name}" for name in self.added]
        out += [f"camera removed: {name}" for name in self.removed]
        out += [
            f"camera changed: {c.camera} ({', '.join(c.keys)}; {'in place' if c.in_place else 'restarts alone'})"
            for c in self.changed
        ]
        out += [f"integration changed: {name}" for name in self.integrations]
        out += [f"needs a restart (not applied by a reload): {key}" for key in self.restart_needed]
        return out or ["no change"]


def config_changes(running: StreamerConfig | dict, loaded: StreamerConfig) -> ConfigChanges:
    """`running`: the config in use, or its fingerprint (what a running service leaves in `running-config.json`)."""
    before = running if isinstance(running, dict) else fingerprint(running)
    after = fingerprint(loaded)
    old_cameras, new_cameras = before["cameras"], after["cameras"]
    changed = []
    for name in sorted(old_cameras.keys() & new_cameras.keys()):
        old, new = old_cameras[name], new_cameras[name]
        keys = sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))
        keys = [key for key in keys if not any(other.startswith(f"{key}.") for other in keys)]  # {} → a zone: the zone
        if keys:
            changed.append(CameraChange(name, tuple(keys)))
    old_sections, new_sections = before["sections"], after["sections"]
    sections = tuple(
        sorted(
            key for key in old_sections.keys() | new_sections.keys() if old_sections.get(key) != new_sections.get(key)
        )
    )
    old_outputs, new_outputs = before.get("integrations", {}), after["integrations"]
    outputs = tuple(
        sorted(
            name for name in old_outputs.keys() | new_outputs.keys() if old_outputs.get(name) != new_outputs.get(name)
        )
    )
    return ConfigChanges(
        tuple(sorted(new_cameras.keys() - old_cameras.keys())),
        tuple(sorted(old_cameras.keys() - new_cameras.keys())),
        tuple(changed),
        sections,
        outputs,
    )


def fingerprint(config: StreamerConfig) -> dict:
    """A digest of every leaf of each enabled camera, and of each other section: enough to say what differs,
    nothing that could be read back (camera URLs carry passwords)."""
    tree = config.model_dump(mode="json")
    cameras = {
        name: {path: _digest(value) for path, value in _leaves(tree["cameras"][name])}
        for name in config.enabled_cameras()
    }
    sections = {key: _digest(value) for key, value in tree.items() if key not in IN_PLACE}
    outputs = {name: _digest(value) for name, value in tree.get("integrations", {}).items()}
    return {"cameras": cameras, "sections": sections, "integrations": outputs}


def _leaves(node: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(node, dict) and node:
        return [leaf for key in sorted(node, key=str) for leaf in _leaves(node[key], f"{prefix}{key}.")]
    return [(prefix.rstrip("."), node)]


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


RUNNING = "running-config.json"  # under storage_dir: the fingerprint of what `streamer run` runs now


def remember_running(storage_dir: Path, config: StreamerConfig) -> None:
    target = storage_dir / RUNNING
    aside = target.with_name(f".{RUNNING}.tmp")
    aside.write_text(json.dumps(fingerprint(config)))
    aside.replace(target)


def running_fingerprint(storage_dir: Path) -> dict | None:
    try:
        found = json.loads((storage_dir / RUNNING).read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) and {"cameras", "sections"} <= found.keys() else None
