"""Exported models cached under `<models_dir>/cache/`, one folder per weights, runtime, input, batch, precision and
ultralytics version; an entry counts only once its `entry.json` is written, and one that does not load is rebuilt."""

from __future__ import annotations

import fcntl
import json
import logging
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from streamer.assets import content_id

log = logging.getLogger("streamer.engine")

# what ultralytics' exporter writes for each runtime, and the name of its `format=`
_FORMATS = {"openvino": "openvino", "onnxruntime": "onnx", "tensorrt": "engine"}


class ExportError(Exception):
    pass


@dataclass(frozen=True)
class ExportKey:
    weights_sha256: str
    backend: str
    imgsz: tuple[int, int]  # the largest input; exports are dynamic in batch and shape below it
    batch: int
    precision: str
    ultralytics: str

    def folder_name(self, stem: str) -> str:
        height, width = self.imgsz
        return (
            f"{stem}-{self.weights_sha256[:12]}-{self.backend}-{height}x{width}-b{self.batch}-{self.precision}"
            f"-ul{self.ultralytics}"
        )


def export_key(weights: Path, backend: str, imgsz: tuple[int, int], batch: int, precision: str) -> ExportKey:
    import ultralytics

    return ExportKey(content_id(weights), backend, imgsz, batch, precision, ultralytics.__version__)


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Two processes exporting the same entry (`streamer models export` beside a running engine) take turns."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with (folder.parent / f".{folder.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def cached_export(weights: Path, key: ExportKey, cache_dir: Path, device: str) -> tuple[Path, bool]:
    """The exported artifact for `key`, and whether it was exported now (False: taken from the cache)."""
    folder = cache_dir / key.folder_name(weights.stem)
    with locked(folder):
        artifact = cached_artifact(folder, key)
        if artifact is not None:
            return artifact, False
        shutil.rmtree(folder, ignore_errors=True)  # a half-written or foreign entry
        return _export(weights, key, folder, device), True


def cached_artifact(folder: Path, key: ExportKey) -> Path | None:
    try:
        entry = json.loads((folder / "entry.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    artifact = folder / str(entry.get("artifact", ""))
    if entry.get("key") != key_json(key) or not entry.get("artifact") or not artifact.exists():
        return None
    return artifact


def discard(artifact: Path, cache_dir: Path) -> None:
    """An entry whose artifact would not load: removed, so the next use exports it again."""
    folder = cache_dir / artifact.relative_to(cache_dir).parts[0]
    log.warning("cached export is broken; rebuilding it", extra={"fields": {"entry": folder.name}})
    shutil.rmtree(folder, ignore_errors=True)


def key_json(key: ExportKey) -> dict[str, object]:
    return {**asdict(key), "imgsz": list(key.imgsz)}


def _export(weights: Path, key: ExportKey, folder: Path, device: str) -> Path:
    from ultralytics import YOLO

    folder.mkdir(parents=True)
    local = folder / weights.name  # ultralytics writes the export beside the weights it read
    shutil.copyfile(weights, local)
    fp16 = key.precision == "fp16"
    options: dict[str, object] = {
        "format": _FORMATS[key.backend],
        "imgsz": list(key.imgsz),
        "batch": key.batch,
        "dynamic": True,
        "verbose": False,
    }
    if fp16:
        options["quantize"] = 16
    if key.backend == "tensorrt" or (key.backend == "onnxruntime" and fp16):
        options["device"] = device  # TensorRT builds for its GPU; an fp16 ONNX export needs one too
    log.info(
        "exporting model",
        extra={
            "fields": {
                "model": weights.name,
                "backend": key.backend,
                "imgsz": "x".join(map(str, key.imgsz)),
                "batch": key.batch,
                "precision": key.precision,
            }
        },
    )
    try:
        with warnings.catch_warnings():  # torch.jit's deprecation notes, once per export: not the user's concern
            warnings.simplefilter("ignore")
            artifact = Path(YOLO(str(local), task="detect").export(**options))
    except Exception as error:  # the exporter raises whatever its toolchain raises
        shutil.rmtree(folder, ignore_errors=True)
        raise ExportError(f"cannot export {weights.name} to {key.backend}: {error}") from None
    local.unlink()
    entry = {"key": key_json(key), "artifact": str(artifact.relative_to(folder))}
    (folder / "entry.json").write_text(json.dumps(entry, indent=2), encoding="utf-8")
    return artifact
