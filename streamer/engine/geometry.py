"""The model input of a frame: ultralytics' letterbox, pixel for pixel (so boxes match its `.pt` predictions), in
OpenCV alone so that a camera's worker never imports torch; and the way back (in the engine, which has torch)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from streamer.config.cameras import CameraConfig

STRIDE = 32  # every YOLO head here downsamples by 32: input sides must be multiples of it


@dataclass(frozen=True)
class InputGeometry:
    """Either `imgsz` fitted to each frame's aspect (the least padding to a multiple of 32, what ultralytics does
    for a `.pt`: 640×272 → 288×640, 768×576 → 480×640) or a fixed `input_size`."""

    imgsz: int = 640
    input_size: tuple[int, int] | None = None

    @property
    def largest(self) -> tuple[int, int]:
        """The largest letterboxed input (height, width) any frame of the camera can give."""
        return self.input_size or (self.imgsz, self.imgsz)

    @property
    def max_bytes(self) -> int:
        """The size of a shared-memory slot."""
        height, width = self.largest
        return height * width * 3

    def letterbox(self, image: np.ndarray) -> np.ndarray:
        if self.input_size is not None:
            return letterbox(image, self.input_size, fit_stride=False)
        return letterbox(image, (self.imgsz, self.imgsz), fit_stride=True)


def letterbox(image: np.ndarray, shape: tuple[int, int], fit_stride: bool) -> np.ndarray:
    """Scale to fit `shape` (height, width) keeping the aspect, pad with grey 114 around it: to the whole of `shape`,
    or (`fit_stride`) only to the next multiple of the stride. The rounding is ultralytics' `LetterBox`, so the
    model sees the same pixels as `model.predict` gives it (tests/test_bytetrack.py compares them)."""
    import cv2  # imported on use: the supervisor needs only the sizes

    height, width = image.shape[:2]
    ratio = min(shape[0] / height, shape[1] / width)
    new_w, new_h = max(round(width * ratio), 1), max(round(height * ratio), 1)
    pad_w, pad_h = shape[1] - new_w, shape[0] - new_h
    if fit_stride:
        pad_w, pad_h = pad_w % STRIDE, pad_h % STRIDE
    pad_w, pad_h = pad_w / 2, pad_h / 2
    if (width, height) != (new_w, new_h):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, bottom = round(pad_h - 0.1), round(pad_h + 0.1)
    left, right = round(pad_w - 0.1), round(pad_w + 0.1)
    return cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(114, 114, 114))


def to_source_pixels(boxes: np.ndarray, input_hw: tuple[int, int], frame_hw: tuple[int, int]) -> np.ndarray:
    """xyxy in letterboxed input pixels → xyxy in the source frame, clipped to it."""
    import torch
    from ultralytics.utils import ops

    if not len(boxes):
        return boxes
    scaled = ops.scale_boxes(input_hw, torch.from_numpy(boxes.copy()), frame_hw)
    return scaled.numpy()


def camera_geometry(camera: "CameraConfig") -> InputGeometry:
    return InputGeometry(camera.detect.model.imgsz, camera.detect.input_size)
