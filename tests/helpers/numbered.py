"""A camera clip for the live-video and zone-editor tests: a person walking to and fro at a known place over a
plain grey picture (nothing else to detect), each frame carrying its own number in pixels (a strip of 16 black or
white blocks at the top), encoded as a camera would (a keyframe a second, no B-frames)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from testkit.scenes import HEIGHT, WIDTH, paste, person, write_scene

FPS = 25
BITS, BLOCK, STRIP, READ_Y = 16, 40, 64, 56  # the frame number: 16 blocks 40 px wide in the top 64 rows, read
# at row 56, below the time the live picture's annotation writes in the corner
LEFT, RIGHT, PERIOD_S = 120.0, 520.0, 4.0  # the walker's foot x goes LEFT → RIGHT → LEFT every PERIOD_S
FOOT_Y, WALKER_H = 340, 200


def walker_x(t: float) -> float:
    phase = (t % PERIOD_S) / PERIOD_S
    return LEFT + (RIGHT - LEFT) * (2 * phase if phase < 0.5 else 2 - 2 * phase)


def numbered_clip(path: Path, seconds: float) -> Path:
    background, cutout = np.full((HEIGHT, WIDTH, 3), 128, np.uint8), person(WALKER_H)

    def render(t: float) -> np.ndarray:
        image = paste(background, cutout, (walker_x(t), FOOT_Y))
        number = round(t * FPS)
        for bit in range(BITS):
            image[:STRIP, bit * BLOCK : (bit + 1) * BLOCK] = 255 if number >> bit & 1 else 0
        return image

    return write_scene(path, seconds, render, options={"bf": "0", "preset": "ultrafast", "crf": "23", "g": str(FPS)})
