"""The model input of a frame: ultralytics' own letterbox (so boxes match its `.pt` predictions) and the way back."""

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
        from ultralytics.data.augment import LetterBox  # imported on use: the supervisor needs only the sizes

        if self.input_size is not None:
            return LetterBox(self.input_size, auto=False, stride=STRIDE)(image=image)
        return LetterBox((self.imgsz, self.imgsz), auto=True, stride=STRIDE)(image=image)


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
