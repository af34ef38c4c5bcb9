"""Object detection with ultralytics YOLO; takes a batch of frames so cameras can share a GPU call."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import supervision as sv

from streamer.config.cameras import ModelSpec
from streamer.detect.weights import resolve_weights

log = logging.getLogger("streamer.detect")


class ModelLoadError(Exception):
    pass


def with_class_names(detections: sv.Detections) -> sv.Detections:
    """Empty results from ultralytics carry no `class_name`; every stage after this one may rely on it."""
    if "class_name" not in detections.data:
        detections.data["class_name"] = np.array([], dtype=str)
    return detections


class Detector(Protocol):
    names: Mapping[int, str]
    label: str

    def detect(self, images: Sequence[np.ndarray]) -> list[sv.Detections]:
        """One `sv.Detections` (xyxy in source pixels, confidence, class_id, data['class_name']) per image."""
        ...


class UltralyticsDetector:
    def __init__(self, spec: ModelSpec, models_dir: Path, device: str, half: bool = False):
        from ultralytics import YOLO  # heavy import, paid only by workers

        weights = resolve_weights(spec.weights, models_dir)
        try:
            self.model = YOLO(weights, task="detect")
        except Exception as error:  # ultralytics raises many types for unusable files
            raise ModelLoadError(f"cannot load model '{spec.weights}': {error}") from None
        self.spec = spec
        self.label = Path(spec.weights).name
        self.device = device
        self.half = half and device.startswith("cuda")
        self.names: Mapping[int, str] = dict(self.model.names)
        self.class_ids = self._class_ids(spec.classes)

    def _class_ids(self, classes: list[str] | None) -> list[int] | None:
        if classes is None:
            return None
        by_name = {name.lower(): class_id for class_id, name in self.names.items()}
        unknown = [name for name in classes if name.lower() not in by_name]
        if unknown:
            known = ", ".join(self.names.values())
            raise ModelLoadError(f"classes {unknown} are not in {self.label} (it knows: {known})")
        return [by_name[name.lower()] for name in classes]

    def detect(self, images: Sequence[np.ndarray]) -> list[sv.Detections]:
        if not images:
            return []
        precision = {"half": True} if self.half else {}  # passing half=False makes ultralytics 8.4 warn per call
        results = self.model.predict(
            list(images),
            conf=self.spec.confidence,
            iou=self.spec.iou,
            imgsz=self.spec.imgsz,
            classes=self.class_ids,
            device=self.device,
            verbose=False,
            **precision,
        )
        return [with_class_names(sv.Detections.from_ultralytics(result)) for result in results]

    def warm_up(self, height: int = 480, width: int = 640) -> None:
        """The first call builds kernels and fuses layers; keep that out of the first real frame's latency."""
        self.detect([np.zeros((height, width, 3), dtype=np.uint8)])
