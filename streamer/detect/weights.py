"""Find model weights: the models folder, a path, or a name ultralytics can fetch itself."""

from __future__ import annotations

import re
from pathlib import Path

# Names ultralytics downloads on first use (only works online); anything else must exist on disk.
_ULTRALYTICS_ASSET = re.compile(r"^yolo(v3|v5|v8|v9|v10|11|12|26)[nsmlxcet]?u?(-(seg|pose|obb|cls|fall))?\.pt$")
WEIGHT_SUFFIXES = (".pt", ".onnx", ".engine", ".torchscript", ".mlpackage", "_openvino_model", "_ncnn_model")


class WeightsNotFound(ValueError):
    pass


def resolve_weights(name: str, models_dir: Path) -> str:
    """Return a path ultralytics can load, or the bare asset name it will download."""
    candidates = [Path(name)] if Path(name).is_absolute() else [models_dir / name, Path(name)]
    for candidate in candidates:
        if candidate.exists():
            if not str(candidate).endswith(WEIGHT_SUFFIXES):
                raise WeightsNotFound(
                    f"'{name}' is not ultralytics weights (expected one of {', '.join(WEIGHT_SUFFIXES)})"
                )
            return str(candidate.resolve())
    if "/" not in name and _ULTRALYTICS_ASSET.match(name):
        return name
    raise WeightsNotFound(
        f"model weights '{name}' not found (looked in {models_dir}); run `streamer models pull` or give a path"
    )
