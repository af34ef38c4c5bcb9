"""The `defaults:` section: settings every camera inherits, so twenty cameras are not twenty copies.

A camera's own keys win. Mappings merge key by key, at every depth (`detect.model.confidence` alone can be
overridden, and a camera's `zones` are added to the default zones, a zone of the same name replacing the
default's); anything else (a number, a string, a list such as `rules` or `classes`) is taken whole from the camera
when it has it, else from the defaults. `url` and `node` belong to one camera and are refused in the defaults.
The merge happens on the YAML tree, before validation, so every merged camera is validated exactly as if it had
been written out in full; an error in a value the camera took from the defaults is reported at its line there.
"""

from __future__ import annotations

from typing import Any

from streamer.config.env import Location

SECTION = "defaults"
PER_CAMERA = ("url", "node")  # one camera's own: a default would make every camera the same one


def merged(defaults: Any, own: Any) -> Any:
    """`own` over `defaults`: mappings key by key, anything else whole."""
    if isinstance(defaults, dict) and isinstance(own, dict):
        out = dict(defaults)
        for key, value in own.items():
            out[key] = merged(defaults[key], value) if key in defaults else value
        return out
    return own


def apply_defaults(tree: dict) -> tuple[dict, list[tuple[Location, str]]]:
    """The tree with `defaults` merged into each camera and removed, and (location, message) for each problem of
    the section's shape (its keys are checked when the cameras that inherit them are validated)."""
    if SECTION not in tree:
        return tree, []
    tree = dict(tree)
    defaults = tree.pop(SECTION)
    if defaults is None:
        return tree, []
    if not isinstance(defaults, dict):
        return tree, [((SECTION,), "must be a mapping of camera settings (detect, record, tracker, rules…)")]
    problems = [
        ((SECTION, key), "belongs to each camera; it cannot have a default") for key in PER_CAMERA if key in defaults
    ]
    cameras = tree.get("cameras")
    if problems or not isinstance(cameras, dict):
        return tree, problems
    tree["cameras"] = {name: merged(defaults, own) if isinstance(own, dict) else own for name, own in cameras.items()}
    return tree, []
