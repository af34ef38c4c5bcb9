"""A `streamer dataset export` folder with known verdicts, written by the export's own code
(streamer/query/dataset.py: conversation) from generated clips instead of recordings: true alarms, where a person
falls under a red alarm light, and false alarms, where a person stands in daylight. The two classes differ in colour
over the whole frame, because the tiny random model's frozen vision tower carries colour and not pose (a real
Qwen2.5-VL's sees the fall itself); the person's place changes from clip to clip."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamer.config.root import StreamerConfig
from streamer.index.rows import ReviewRow
from streamer.query.dataset import JSONL, conversation
from testkit.alerts import alert
from testkit.scenes import paste, person, street

CLOCK = 1_800_000_000.0
FALL_AT_S = 0.5  # the fall starts at the second frame
RED_LIGHT = np.array([0.35, 0.35, 1.0])  # BGR gains


@dataclass(frozen=True)
class _Frame:
    image: np.ndarray
    wall_ts: float


def write_reviewed_set(out: Path, config: StreamerConfig, bikes_mp4: Path, clips: int, seed: int = 0) -> Path:
    """`clips` conversations, every other one a true alarm; frames at the config's VLM rate, 2 s a clip."""
    rng = random.Random(seed)
    background, cutout = street(bikes_mp4), person(200)
    sampling = config.vlm.sampling
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for number in range(clips):
        fell = number % 2 == 0
        start = CLOCK + 60.0 * number
        x = rng.uniform(120, 520)
        frames = []
        for index in range(round(2.0 * sampling.fps)):
            wall = start + index / sampling.fps + rng.uniform(-0.02, 0.02)  # real times, a little off the grid
            image = paste(background, cutout, (x, 330), 90.0 if fell and index / sampling.fps >= FALL_AT_S else 0.0)
            frames.append(_Frame((image * RED_LIGHT).astype(np.uint8) if fell else image, wall))
        event_start = start + FALL_AT_S
        event = alert(
            f"clip-{number:03d}",
            "end",
            event_start,
            start + 1.5,
            camera="generated",
            kind="fall",
            risk_level="high",
            bbox_xyxy=(x - 50, 130, x + 50, 330),
        )
        review = ReviewRow(event.event_id, "true_alarm" if fell else "false_alarm", "", "generated", start + 300)
        lines.append(conversation(config, event, review, frames, sampling, out))
    (out / JSONL).write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return out
