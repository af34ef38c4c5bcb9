"""What a camera worker sees of the engine: frames in, detections out in frame order, whether the models run in
the shared engine process (`RemoteDetection`) or in the worker itself (`LocalDetection`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import supervision as sv

from streamer.config.cameras import CameraConfig, ModelSpec
from streamer.detect.weights import resolve_weights
from streamer.engine.protocol import TRACKED, ModelUse
from streamer.frame import Frame


@dataclass(frozen=True)
class DetectedFrame:
    frame: Frame
    detections: sv.Detections  # the tracked model's, not yet tracked
    extra: Mapping[str, sv.Detections]  # extra models by config key; empty detections where run_when skipped them
    latency_ms: float  # from hand-over to answer
    ran: bool = True  # False: the motion gate let the frame skip the detector (it is still tracked, with nothing)


class DetectionStage(Protocol):
    inflight: int
    dropped: int  # frames handed over and never answered (an engine that died with them, live cameras only)

    def start(self) -> None:
        """Load or connect; raises ModelLoadError (or WeightsNotFound) when the camera cannot run as configured."""
        ...

    def free(self) -> int:
        """How many more frames may be handed over now."""
        ...

    def submit(self, frame: Frame) -> None: ...

    def collect(self, timeout: float) -> list[DetectedFrame]:
        """Answers that are ready (waiting at most `timeout` for the first), oldest first."""
        ...

    def close(self) -> None: ...


def model_uses(camera: CameraConfig, models_dir: Path) -> tuple[ModelUse, ...]:
    """The tracked model first, then the extra models; every model of a camera sees the same letterboxed input."""
    detect = camera.detect

    def use(name: str, spec: ModelSpec) -> ModelUse:
        return ModelUse(
            name,
            resolve_weights(spec.weights, models_dir),
            detect.backend,
            detect.precision,
            spec.confidence,
            spec.iou,
            tuple(spec.classes) if spec.classes else None,
            tuple(spec.run_when) if spec.run_when else None,
        )

    return (use(TRACKED, detect.model), *(use(key, spec) for key, spec in detect.extra_models.items()))


def to_detections(boxes: np.ndarray | None, names: Mapping[int, str]) -> sv.Detections:
    """(n, 6) rows → `sv.Detections` with data['class_name'], as `sv.Detections.from_ultralytics` gives them."""
    if boxes is None or not len(boxes):
        empty = sv.Detections.empty()
        empty.data["class_name"] = np.array([], dtype=str)
        return empty
    class_id = boxes[:, 5].astype(int)
    return sv.Detections(
        xyxy=boxes[:, :4].astype(np.float32),
        confidence=boxes[:, 4].astype(np.float32),
        class_id=class_id,
        data={"class_name": np.array([names[int(c)] for c in class_id])},
    )


def detected_frame(
    frame: Frame, boxes: Mapping[str, np.ndarray | None], names: Mapping[str, Mapping[int, str]], latency_ms: float
) -> DetectedFrame:
    """The engine's answer for one frame (rows per model use) as the worker tracks it."""
    extra = {key: to_detections(found, names[key]) for key, found in boxes.items() if key != TRACKED}
    return DetectedFrame(frame, to_detections(boxes[TRACKED], names[TRACKED]), extra, latency_ms)
