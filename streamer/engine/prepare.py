"""`streamer models export`: every model of the configured cameras exported and loaded once for the runtime its
engine will use, so that the first `streamer run` starts without waiting for exports."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from streamer.config.cameras import CameraConfig
from streamer.config.engine import EngineConfig
from streamer.engine.host import device_settings, resolve_device
from streamer.engine.models import ModelKey, ModelRegistry
from streamer.engine.stage import model_uses


@dataclass(frozen=True)
class PreparedModel:
    camera: str
    model: str  # weights file name
    device: str
    backend: str
    exported: bool
    seconds: float
    artifact: Path


def prepare(
    cameras: Mapping[str, CameraConfig], config: EngineConfig, models_dir: Path, storage_dir: Path | None = None
) -> list[PreparedModel]:
    """Raises ModelLoadError (one line naming the model and the backend) or WeightsNotFound."""
    registries = {
        device: ModelRegistry(loading)
        for device, loading in device_settings(cameras, config, models_dir, storage_dir).items()
    }
    prepared = []
    for name, camera in cameras.items():
        device = resolve_device(camera.detect.device)
        for use in model_uses(camera, models_dir):
            started = time.monotonic()
            model = registries[device].get(ModelKey(use.weights, use.backend, use.precision))
            prepared.append(
                PreparedModel(
                    name,
                    Path(use.weights).name,
                    device,
                    model.runner.name,
                    model.exported,
                    time.monotonic() - started,
                    model.artifact,
                )
            )
    return prepared
