"""Clips with known truth: a real person photo (ultralytics' bus.jpg) composited over a real street frame
(bikes.mp4), moved or tipped over at exact times, written with PyAV at exact PTS. Real models see them."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from ultralytics.utils import ASSETS

WIDTH, HEIGHT, FPS = 640, 360, 25
TIME_BASE = Fraction(1, 90_000)
PERSON_IN_BUS = (45, 390, 245, 910)  # the man on the left of bus.jpg, with a little of the street around him


def person(height: int = 220) -> np.ndarray:
    x1, y1, x2, y2 = PERSON_IN_BUS
    crop = cv2.imread(str(ASSETS / "bus.jpg"))[y1:y2, x1:x2]
    return cv2.resize(crop, (round(crop.shape[1] * height / crop.shape[0]), height), interpolation=cv2.INTER_AREA)


def street(bikes_mp4: Path) -> np.ndarray:
    with av.open(str(bikes_mp4)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="bgr24")
    return cv2.resize(first, (WIDTH, HEIGHT))


def paste(background: np.ndarray, cutout: np.ndarray, foot: tuple[float, float], angle_deg: float = 0.0) -> np.ndarray:
    """The cutout stood with the middle of its bottom edge on `foot`, turned by `angle_deg` about that point
    (clockwise on screen: it falls to the right)."""
    height, width = cutout.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height), -angle_deg, 1.0)
    matrix[0, 2] += foot[0] - width / 2
    matrix[1, 2] += foot[1] - height
    warped = cv2.warpAffine(cutout, matrix, (WIDTH, HEIGHT))
    mask = cv2.warpAffine(np.full((height, width), 255, np.uint8), matrix, (WIDTH, HEIGHT)) > 0
    out = background.copy()
    out[mask] = warped[mask]
    return out


def write_scene(
    path: Path,
    seconds: float,
    render: Callable[[float], np.ndarray],
    width: int = WIDTH,
    height: int = HEIGHT,
    fps: int = FPS,
    options: dict[str, str] | None = None,
    bit_rate: int | None = None,
) -> Path:
    """`options`: x264's, instead of the fast, B-frame-free encode the tests use; `bit_rate` for a camera's."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = stream.codec_context.time_base = TIME_BASE
        stream.options = options or {"bf": "0", "preset": "ultrafast", "crf": "18"}
        if bit_rate is not None:
            stream.bit_rate = bit_rate
        for index in range(round(seconds * fps)):
            t = index / fps
            frame = av.VideoFrame.from_ndarray(render(t), format="bgr24").reformat(format="yuv420p")
            frame.pts, frame.time_base = round(t / TIME_BASE), TIME_BASE
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def fall_scene(path: Path, bikes_mp4: Path, fall_at: float, gone_at: float, seconds: float) -> Path:
    """Standing still, then tipping over under gravity in 0.6 s from `fall_at`; lying until `gone_at`.
    (Size and place chosen so that both yolo26n and the fall model see the lying person.)"""
    background, cutout = street(bikes_mp4), person(260)

    def render(t: float) -> np.ndarray:
        if t >= gone_at:
            return background
        angle = 0.0 if t < fall_at else 90.0 * min(1.0, ((t - fall_at) / 0.6) ** 2)
        return paste(background, cutout, (200, 340), angle)

    return write_scene(path, seconds, render)


def walk_scene(path: Path, bikes_mp4: Path, start_x: float, speed: float, gone_at: float, seconds: float) -> Path:
    """Walking left to right with the feet at y=330: foot x = start_x + speed * t, until `gone_at`."""
    background, cutout = street(bikes_mp4), person(200)

    def render(t: float) -> np.ndarray:
        return background if t >= gone_at else paste(background, cutout, (start_x + speed * t, 330))

    return write_scene(path, seconds, render)
