"""The config checks of the commands that load models (`run`, `models export`, `validate-config`): every
weights file exists, its classes are ones the model knows (once its names are known here), and a `cuda:N`
device is one this machine has. Other commands (`query`, `alerts tail`, `vlm stats`…) do not need the models
and do not check them."""

from __future__ import annotations

from pathlib import Path

from streamer.config.env import Location
from streamer.config.root import StreamerConfig
from streamer.detect.class_names import known_names, unknown_classes
from streamer.detect.weights import WeightsNotFound, resolve_weights

GPUS = Path("/proc/driver/nvidia/gpus")


def model_files(config: StreamerConfig) -> list[tuple[Location, str]]:
    """Every model's weights exist; its `classes` (and the extras' `run_when`, which name the tracked model's
    classes) are ones the model knows, when its names are known here."""
    issues = []
    cache_dir = config.models_dir / "cache"
    for name, cam in config.cameras.items():
        specs = {("detect", "model"): cam.detect.model}
        specs.update({("detect", "extra_models", key): spec for key, spec in cam.detect.extra_models.items()})
        names: dict[tuple, list[str] | None] = {}
        for loc, spec in specs.items():
            try:
                names[loc] = known_names(Path(resolve_weights(spec.weights, config.models_dir)), cache_dir)
            except WeightsNotFound as error:
                issues.append((("cameras", name, *loc, "weights"), str(error)))
        for loc, spec in specs.items():
            checks = [(loc, "classes", spec.classes)]
            if loc != ("detect", "model"):
                checks.append((("detect", "model"), "run_when", spec.run_when))
            for model_loc, field, requested in checks:
                known = names.get(model_loc)
                missing = unknown_classes(requested, known) if requested and known else []
                if missing:
                    model = specs[model_loc].weights
                    issues.append(
                        (
                            ("cameras", name, *loc, field),
                            f"{missing} not among the classes of {model}: {', '.join(known)}",
                        )
                    )
    return issues


def devices(config: StreamerConfig, gpus: Path = GPUS) -> list[tuple[Location, str]]:
    """`cuda:N` must be a GPU the NVIDIA driver lists here; with no driver at all the engine falls back to the CPU
    and says so (a config written for a GPU host still runs on a laptop)."""
    count = len(list(gpus.iterdir())) if gpus.is_dir() else 0
    issues = []
    for name, cam in config.cameras.items():
        device = cam.detect.device.removeprefix("cuda:")
        if count and device.isdigit() and int(device) >= count:
            issues.append(
                (
                    ("cameras", name, "detect", "device"),
                    f"'{cam.detect.device}': this machine has {count} CUDA device(s), 0 to {count - 1}",
                )
            )
    return issues


MODEL_CHECKS = (model_files, devices)
