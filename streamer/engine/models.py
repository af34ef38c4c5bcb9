"""The models an engine holds: each loaded once on the chosen runtime, shared by every camera that names it."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from streamer.config.cameras import Backend, Precision
from streamer.detect.class_names import remember_names, unknown_classes
from streamer.engine.agreement import BoxAgreement, box_agreement
from streamer.engine.errors import ModelLoadError
from streamer.engine.export import ExportError, cached_export, discard, export_key
from streamer.engine.runners import AutoBackendRunner, OnnxRuntimeRunner, OpenVinoRunner, Runner
from streamer.engine.settings import LoadSettings

log = logging.getLogger("streamer.engine")

MAX_DET = 300  # ultralytics' default: the same boxes as its own predict


@dataclass(frozen=True)
class ModelKey:
    weights: str  # resolved path
    backend: Backend
    precision: Precision


@dataclass(frozen=True)
class NmsParams:
    confidence: float
    iou: float
    class_ids: tuple[int, ...] | None


def fallback_order(backend: Backend, device: str) -> list[Backend]:
    """`auto`: TensorRT (where installed), then PyTorch fp16 on CUDA; PyTorch on Apple's mps; OpenVINO, then ONNX
    Runtime, then PyTorch on a CPU."""
    if backend is not Backend.AUTO:
        return [backend]
    if device.startswith("cuda"):
        tensorrt = importlib.util.find_spec("tensorrt") is not None  # ultralytics would try to pip-install it
        return [Backend.TENSORRT, Backend.PYTORCH] if tensorrt else [Backend.PYTORCH]
    if device == "mps":
        return [Backend.PYTORCH]
    return [Backend.OPENVINO, Backend.ONNXRUNTIME, Backend.PYTORCH]


def precision_for(precision: Precision, device: str) -> str:
    if precision is Precision.AUTO:
        return "fp16" if device.startswith("cuda") else "fp32"
    return precision.value


@dataclass
class LoadedModel:
    key: ModelKey
    runner: Runner
    names: Mapping[int, str]
    artifact: Path  # what the runtime loaded: the cached export, or the weights themselves
    exported: bool = False  # exported by this load (False: taken from the cache, or nothing to export)

    def infer(self, inputs: Sequence[np.ndarray], params: Sequence[NmsParams]) -> list[np.ndarray]:
        """Letterboxed BGR uint8 images of one shape → per image an (n, 6) array: x1 y1 x2 y2 conf class."""
        batch = np.stack(inputs)
        if not self.runner.takes_uint8_bgr:  # BGR HWC → RGB CHW in 0…1, as ultralytics' predictor does
            batch = np.ascontiguousarray(batch[..., ::-1].transpose(0, 3, 1, 2), dtype=self.runner.dtype)
            batch /= np.array(255, dtype=self.runner.dtype)
        output = self.runner.run(batch)
        return [self._nms(output[i : i + 1], p) for i, p in enumerate(params)]

    def detect_each(
        self, inputs: Sequence[np.ndarray], params: NmsParams = NmsParams(0.25, 0.7, None)
    ) -> list[np.ndarray]:
        """One frame at a time (letterboxed inputs of any shapes), ultralytics' default thresholds: for checks."""
        return [self.infer([image], [params])[0] for image in inputs]

    def _nms(self, prediction: torch.Tensor, params: NmsParams) -> np.ndarray:
        from ultralytics.utils import nms

        classes = list(params.class_ids) if params.class_ids is not None else None
        (kept,) = nms.non_max_suppression(
            prediction, params.confidence, params.iou, classes, max_det=MAX_DET, end2end=self.runner.end2end
        )
        return kept.numpy().astype(np.float32)

    def class_ids(self, classes: Sequence[str] | None) -> tuple[int, ...] | None:
        if classes is None:
            return None
        by_name = {name.lower(): class_id for class_id, name in self.names.items()}
        unknown = unknown_classes(list(classes), list(self.names.values()))
        if unknown:
            raise ModelLoadError(
                f"classes {unknown} are not in {Path(self.key.weights).name} "
                f"(it knows: {', '.join(self.names.values())})"
            )
        return tuple(by_name[name.lower()] for name in classes)


class ModelRegistry:
    def __init__(self, settings: LoadSettings):
        self.settings = settings
        self.models: dict[ModelKey, LoadedModel] = {}

    def get(self, key: ModelKey) -> LoadedModel:
        if key not in self.models:
            self.models[key] = self._load(key)
        return self.models[key]

    def _load(self, key: ModelKey) -> LoadedModel:
        weights = Path(key.weights)
        names = _names(weights)  # an unusable file fails here, once, before any runtime is tried
        remember_names(weights, self.settings.cache_dir, names)
        order = fallback_order(key.backend, self.settings.device)
        precision = precision_for(key.precision, self.settings.device)
        errors = []
        for position, backend in enumerate(order):
            try:
                runner, artifact, exported = self._runner(weights, backend, precision)
            except Exception as error:  # every runtime fails in its own words; each is one line here
                line = f"model {weights.name} cannot run on {backend.value}: {first_line(error)}"
                errors.append(line)
                if position + 1 < len(order):
                    log.warning("%s; trying %s", line, order[position + 1].value)
                continue
            if key.backend is Backend.AUTO and backend is Backend.PYTORCH and self.settings.device == "cpu":
                log.warning(
                    "model %s runs on plain PyTorch on the CPU (slowest): no faster runtime took it", weights.name
                )
            log.info(
                "model loaded",
                extra={
                    "fields": {
                        "model": weights.name,
                        "backend": runner.name,
                        "device": self.settings.device,
                        "precision": precision,
                    }
                },
            )
            return LoadedModel(key, runner, names, artifact, exported)
        raise ModelLoadError("; ".join(errors))

    def _runner(self, weights: Path, backend: Backend, precision: str) -> tuple[Runner, Path, bool]:
        settings = self.settings
        if precision == "bf16" and backend is not Backend.OPENVINO:
            raise ModelLoadError("bf16 is an OpenVINO precision (CPUs with AMX or AVX512-BF16)")
        if precision == "int8" and (backend is not Backend.OPENVINO or weights.suffix != ".pt"):
            raise ModelLoadError("int8 is made from `.pt` weights for OpenVINO (NNCF quantisation)")
        if backend is Backend.PYTORCH or weights.suffix != ".pt":  # an exported file runs as it is
            return AutoBackendRunner(weights, settings.device, precision == "fp16", backend.value), weights, False
        # bf16 is a runtime choice of OpenVINO's over the same fp32 model: one export serves both (and int8 is
        # made from it)
        stored = "fp16" if precision == "fp16" else "fp32"
        key = export_key(weights, backend.value, settings.imgsz, settings.max_batch, stored)
        if precision == "int8":
            fp32_dir, _ = cached_export(weights, key, settings.cache_dir, settings.device)
            return self._int8(weights, fp32_dir)
        return self._opened(
            lambda: cached_export(weights, key, settings.cache_dir, settings.device),
            lambda artifact: self._open(artifact, backend, precision),
        )

    def _opened(
        self, make: Callable[[], tuple[Path, bool]], open_artifact: Callable[[Path], Runner]
    ) -> tuple[Runner, Path, bool]:
        """A cached artifact opened; one that does not load is made again, once (not one made just now: making it
        again would not help)."""
        artifact, made = make()
        try:
            return open_artifact(artifact), artifact, made
        except Exception:
            if made:
                raise
            discard(artifact, self.settings.cache_dir)
            artifact, made = make()
            return open_artifact(artifact), artifact, made

    def _int8(self, weights: Path, fp32_dir: Path) -> tuple[Runner, Path, bool]:
        """The fp32 export quantised on the site's frames; its boxes checked against fp32's on held-out frames
        (fp32 is loaded only for that check, not when the int8 export is cached)."""
        from streamer.engine.quantize import quantized_export

        settings = self.settings

        def check(int8_dir: Path, held_out: list[np.ndarray]) -> BoxAgreement:
            key = ModelKey(str(weights), Backend.OPENVINO, Precision.FP32)
            reference = LoadedModel(key, OpenVinoRunner(fp32_dir, settings.threads, "fp32"), {}, fp32_dir)
            candidate = LoadedModel(key, OpenVinoRunner(int8_dir, settings.threads, "int8"), {}, int8_dir)
            return box_agreement(reference.detect_each(held_out), candidate.detect_each(held_out))

        key = export_key(weights, Backend.OPENVINO.value, settings.imgsz, settings.max_batch, "int8")
        return self._opened(
            lambda: quantized_export(fp32_dir, key, settings.cache_dir, settings.calibration, check),
            lambda artifact: OpenVinoRunner(artifact, settings.threads, "int8"),
        )

    def _open(self, artifact: Path, backend: Backend, precision: str) -> Runner:
        settings = self.settings
        if backend is Backend.OPENVINO:
            return OpenVinoRunner(artifact, settings.threads, precision)
        if backend is Backend.ONNXRUNTIME:
            return OnnxRuntimeRunner(artifact, settings.threads, settings.device, precision == "fp16")
        return AutoBackendRunner(artifact, settings.device, precision == "fp16", backend.value)


def _names(weights: Path) -> dict[int, str]:
    from ultralytics import YOLO

    try:
        return {int(k): str(v) for k, v in YOLO(str(weights), task="detect").names.items()}
    except Exception as error:
        raise ModelLoadError(f"cannot load model '{weights.name}': {first_line(error)}") from None


def first_line(error: BaseException) -> str:
    """Runtimes and ultralytics explain over several lines (with an "ERROR ❌" banner); a log line wants the first."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else type(error).__name__
    return text.removeprefix("ERROR").strip(" ❌️")


__all__ = ["ExportError", "LoadedModel", "LoadSettings", "ModelKey", "ModelLoadError", "ModelRegistry", "NmsParams"]
