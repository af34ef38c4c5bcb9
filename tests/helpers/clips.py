"""Synthetic videos with exactly known PTS, written with PyAV."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

TIME_BASE = Fraction(1, 90_000)


def frame_image(index: int, width: int, height: int) -> np.ndarray:
    """A moving bright square on a dark background: cheap to encode, different in every frame."""
    image = np.full((height, width, 3), 40, dtype=np.uint8)
    x = (index * 7) % max(1, width - 40)
    image[height // 3 : height // 3 + 40, x : x + 40] = (60, 200, 240)
    return image


def write_clip(
    path: Path,
    pts_s: list[float],
    width: int = 160,
    height: int = 120,
    codec: str = "libx264",
    creation_time: str | None = None,
    container_options: dict[str, str] | None = None,
    keyint: int | None = None,
    container_format: str | None = None,
    time_base: Fraction = TIME_BASE,
) -> Path:
    """Write one frame at each PTS (seconds, multiples of 1/90000); B-frames off so decode order is display order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format=container_format, options=container_options or {}) as container:
        if creation_time:
            container.metadata["creation_time"] = creation_time
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        if codec == "libx264":
            stream.options = {
                "bf": "0",
                "preset": "ultrafast",
                **({"g": str(keyint), "keyint_min": str(keyint), "sc_threshold": "0"} if keyint else {}),
            }
        elif keyint:
            stream.codec_context.gop_size = keyint
        for index, seconds in enumerate(pts_s):
            frame = av.VideoFrame.from_ndarray(frame_image(index, width, height), format="bgr24").reformat(
                format="yuv420p"
            )
            frame.pts = round(seconds / time_base)
            frame.time_base = time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def constant_rate(fps: float, seconds: float) -> list[float]:
    return [round(i / fps, 6) for i in range(round(fps * seconds))]


def variable_rate() -> list[float]:
    """Irregular gaps like an RTSP camera under load: 30 fps bursts, a 0.5 s hole, 10 fps stretch."""
    times = [i / 30 for i in range(30)]  # 0 … 0.967
    times += [1.5 + i / 10 for i in range(10)]  # after a gap
    times += [2.5 + i / 30 for i in range(15)]
    return [round(t * 90_000) / 90_000 for t in times]
