"""The recent past of a camera at the VLM's sampling rate: one frame per 1/fps slot of wall-clock time, already
resized to the model's pixel budget, with the tracked boxes of that frame."""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from qwen_vl_utils import smart_resize

from streamer.config.vlm import PATCH_FACTOR, SamplingConfig
from streamer.frame import TrackedFrame
from streamer.record.sample import slot_range
from streamer.vlm.job import TrackBox


@dataclass(frozen=True, eq=False)
class SampledFrame:
    wall_ts: float
    image: np.ndarray  # BGR at the model's input size
    boxes: tuple[TrackBox, ...]  # source-frame pixels
    frame_wh: tuple[int, int]


JPEG_QUALITY = 90


def write_jpeg(path: Path, image: np.ndarray) -> None:
    """A frame for the VLM, or OSError: a job must not point at a picture that is not there."""
    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise OSError(f"cannot write {path}")


def model_size(width: int, height: int, sampling: SamplingConfig) -> tuple[int, int]:
    """(width, height) Qwen2.5-VL will see: sides multiples of 28, pixels within the budget, aspect kept."""
    h, w = smart_resize(
        height, width, factor=PATCH_FACTOR, min_pixels=sampling.min_pixels, max_pixels=sampling.max_pixels
    )
    return w, h


def boxes_of(tracked: TrackedFrame) -> tuple[TrackBox, ...]:
    detections = tracked.detections
    names = detections.data.get("class_name", [""] * len(detections))
    ids = detections.tracker_id if detections.tracker_id is not None else [None] * len(detections)
    return tuple(
        TrackBox(None if track is None else int(track), str(name), tuple(round(float(v), 1) for v in xyxy))
        for xyxy, track, name in zip(detections.xyxy, ids, names)
    )


class FrameRing:
    """Keeps, for each slot of 1/fps seconds on the wall clock, the frame nearest the slot's start, for `keep_s`.
    Slots are absolute, so every clip of a camera is sampled on the same grid."""

    def __init__(self, sampling: SamplingConfig, keep_s: float):
        self.sampling = sampling
        self.step = 1.0 / sampling.fps
        self.keep_s = keep_s
        self._slots: collections.OrderedDict[int, SampledFrame] = collections.OrderedDict()
        self._size: tuple[int, int] | None = None

    def add(self, tracked: TrackedFrame) -> None:
        wall = tracked.frame.wall_ts
        slot = round(wall / self.step)
        held = self._slots.get(slot)
        if held is not None and abs(held.wall_ts - slot * self.step) <= abs(wall - slot * self.step):
            return
        self._slots[slot] = self._sample(tracked)
        self._slots.move_to_end(slot)
        while self._slots and next(iter(self._slots)) < slot - math.ceil(self.keep_s / self.step):
            self._slots.popitem(last=False)

    def window(self, start_ts: float, end_ts: float) -> list[SampledFrame]:
        """Frames whose slot lies in [start, end), in time order."""
        slots = slot_range(start_ts, end_ts, self.step)
        return sorted((f for s, f in self._slots.items() if s in slots), key=lambda f: f.wall_ts)

    def _sample(self, tracked: TrackedFrame) -> SampledFrame:
        frame = tracked.frame
        if self._size is None or self._size[2:] != (frame.width, frame.height):
            self._size = (*model_size(frame.width, frame.height, self.sampling), frame.width, frame.height)
        size = self._size[:2]
        image = (
            cv2.resize(frame.image, size, interpolation=cv2.INTER_AREA)
            if size != (frame.width, frame.height)
            else frame.image.copy()
        )
        return SampledFrame(frame.wall_ts, image, boxes_of(tracked), (frame.width, frame.height))
