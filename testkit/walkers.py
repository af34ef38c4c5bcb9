"""Benchmark and test media made with PyAV from what the packages ship: people walking over the real street of
bikes.mp4, at a camera's resolution and frame rate. Written once into a cache folder and reused."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
from ultralytics.utils import ASSETS

from testkit.scenes import write_scene

PERSON_IN_BUS = (45, 390, 245, 910)  # the man on the left of ultralytics' bus.jpg


def street_frames(bikes_mp4: Path, width: int, height: int) -> list[np.ndarray]:
    with av.open(str(bikes_mp4)) as container:
        return [cv2.resize(frame.to_ndarray(format="bgr24"), (width, height)) for frame in container.decode(video=0)]


def _walker(height: int) -> np.ndarray:
    x1, y1, x2, y2 = PERSON_IN_BUS
    crop = cv2.imread(str(ASSETS / "bus.jpg"))[y1:y2, x1:x2]
    return cv2.resize(crop, (round(crop.shape[1] * height / crop.shape[0]), height), interpolation=cv2.INTER_AREA)


def walkers_clip(
    folder: Path, bikes_mp4: Path, width: int = 768, height: int = 576, fps: int = 10, seconds: float = 20.0
) -> Path:
    """Three people walking across at different speeds and heights, over the moving street (bikes.mp4 played
    forwards and backwards so it never jumps)."""
    path = folder / f"walkers-{width}x{height}-{fps}fps-{seconds:g}s.mp4"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    street = street_frames(bikes_mp4, width, height)
    street = street + street[::-1]
    walkers = [
        (_walker(round(height * scale)), speed, foot_y)
        for scale, speed, foot_y in ((0.45, 60.0, 0.95), (0.35, -45.0, 0.8), (0.3, 90.0, 0.7))
    ]

    def render(t: float) -> np.ndarray:
        image = street[round(t * 25) % len(street)].copy()
        for cutout, speed, foot_y in walkers:
            _paste(image, cutout, (t * speed) % (width + cutout.shape[1]) - cutout.shape[1], foot_y * height)
        return image

    partial = write_scene(path.with_suffix(".partial.mp4"), seconds, render, width, height, fps)
    partial.replace(path)
    return path


def _paste(image: np.ndarray, cutout: np.ndarray, left: float, foot_y: float) -> None:
    """The cutout with its bottom edge at foot_y and its left edge at `left`, clipped to the image."""
    height, width = cutout.shape[:2]
    top, x = int(foot_y) - height, int(left)
    x1, x2 = max(0, x), min(image.shape[1], x + width)
    y1, y2 = max(0, top), min(image.shape[0], top + height)
    if x1 < x2 and y1 < y2:
        image[y1:y2, x1:x2] = cutout[y1 - top : y2 - top, x1 - x : x2 - x]
