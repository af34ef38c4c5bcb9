"""A quiet camera with known truth, made with PyAV: the still street of bikes.mp4 with sensor noise, a cloud that
dims the whole picture and lifts again, one person crossing (ultralytics' bus.jpg man), and at the end the camera
switching to its infrared picture (grey and brighter, at once). Only the person is an event."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from testkit.scenes import write_scene
from testkit.walkers import _paste, _walker, street_frames

WIDTH, HEIGHT, FPS = 768, 576, 10


@dataclass(frozen=True)
class QuietTruth:
    cloud: tuple[float, float] = (2.0, 8.0)  # dimming from the first time, clear again at the second
    walk: tuple[float, float] = (10.0, 19.0)  # the person's left edge enters at the first, gone at the second
    infrared_at: float = 22.0
    seconds: float = 29.0
    speed: float = 100.0  # px/s, left to right, feet at 0.92 of the height
    person_height: int = 230
    zone_left: int = WIDTH // 2  # the zone is the right half: entered when the feet pass this x

    @property
    def person_width(self) -> int:
        return _walker(self.person_height).shape[1]

    @property
    def enters_zone_at(self) -> float:
        return self.walk[0] + (self.zone_left + self.person_width / 2) / self.speed

    @property
    def leaves_frame_at(self) -> float:
        return self.walk[0] + (WIDTH + self.person_width) / self.speed


def brightness(t: float, truth: QuietTruth) -> float:
    """The cloud: 1.0, down to 0.55 over 1.5 s, up again over the last 1.5 s of the cloud."""
    start, end = truth.cloud
    if not start <= t <= end:
        return 1.0
    ramp = min(1.0, (t - start) / 1.5, (end - t) / 1.5)
    return 1.0 - 0.45 * ramp


def quiet_scene(folder: Path, bikes_mp4: Path, truth: QuietTruth = QuietTruth()) -> Path:
    path = folder / (
        f"quiet-768x576-10fps-{truth.seconds:g}s-walk{truth.walk[0]:g}"
        f"{'' if truth.infrared_at < truth.seconds else '-no-ir'}.mp4"
    )
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    street = street_frames(bikes_mp4, WIDTH, HEIGHT)[0].astype(np.float32)
    walker = _walker(truth.person_height)
    rng = np.random.default_rng(7)

    def render(t: float) -> np.ndarray:
        image = street.copy()
        if truth.walk[0] <= t < truth.leaves_frame_at:
            canvas = image.astype(np.uint8)
            _paste(canvas, walker, -walker.shape[1] + truth.speed * (t - truth.walk[0]), 0.92 * HEIGHT)
            image = canvas.astype(np.float32)
        image *= brightness(t, truth)
        if t >= truth.infrared_at:
            grey = cv2.cvtColor(image.astype(np.uint8), cv2.COLOR_BGR2GRAY).astype(np.float32) * 1.35
            image = np.repeat(grey[..., None], 3, axis=2)
        image += rng.normal(0.0, 4.0, image.shape).astype(np.float32)  # sensor noise, fresh every frame
        return np.clip(image, 0, 255).astype(np.uint8)

    partial = write_scene(path.with_suffix(".partial.mp4"), truth.seconds, render, WIDTH, HEIGHT, FPS)
    partial.replace(path)
    return path
