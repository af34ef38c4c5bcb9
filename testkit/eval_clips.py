"""A labelled clip set for the VLM stage's evaluation (streamer/vlm/evaluation.py), with known truth: a real person
photo over a real street (testkit/scenes.py) that falls, sits down, bends or stands; and walks into a marked
area or past it. `scripts/eval_vlm.py` and the tests use the same set."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import yaml

from testkit.scenes import HEIGHT, paste, person, street, write_scene

SECONDS = 6.0
AREA = (380, 250, 620, 350)  # the marked area of the zone clips: x1, y1, x2, y2 (its left edge at x=380)


def _fall(background, cutout, at: float):
    return lambda t: paste(background, cutout, (200, 340), 90.0 * min(1.0, max(0.0, (t - at) / 0.6) ** 2))


def _sit(background, cutout, at: float):
    def render(t: float) -> np.ndarray:
        squash = 1.0 - 0.4 * min(1.0, max(0.0, (t - at) / 1.0))  # lowers itself in a second, stays upright
        height = max(1, round(cutout.shape[0] * squash))
        return paste(background, np.ascontiguousarray(cutout[-height:]) if squash < 1 else cutout, (200, 340))

    return render


def _bend(background, cutout, at: float):
    def render(t: float) -> np.ndarray:
        phase = max(0.0, t - at)
        angle = 40.0 * (min(1.0, phase / 0.8) if phase < 1.8 else max(0.0, 1 - (phase - 1.8) / 0.8))
        return paste(background, cutout, (200, 340), angle)

    return render


def _walk(background, cutout, start_x: float, speed: float, foot_y: float):
    marked = background.copy()
    cv2.rectangle(marked, AREA[:2], AREA[2:], (0, 0, 255), 3)
    return lambda t: paste(marked, cutout, (start_x + speed * t, foot_y))


def generated_clip_set(folder: Path, bikes_mp4: Path) -> Path:
    """Eight 6 s clips with known truth, written once."""
    folder.mkdir(parents=True, exist_ok=True)
    background, standing, walker = street(bikes_mp4), person(260), person(200)
    clips = [  # (file, event type, render, happens, start, end, note)
        ("fall-at-2.0.mp4", "fall", _fall(background, standing, 2.0), True, 2.0, 2.6, "tips over in 0.6 s"),
        ("fall-at-3.5.mp4", "fall", _fall(background, standing, 3.5), True, 3.5, 4.1, "tips over in 0.6 s"),
        ("sits-down.mp4", "fall", _sit(background, standing, 2.5), False, None, None, "lookalike: lowers itself"),
        ("bends.mp4", "fall", _bend(background, standing, 2.0), False, None, None, "lookalike: bends 40° and back"),
        ("stands.mp4", "fall", _fall(background, standing, 99.0), False, None, None, "stands still"),
        # the foot enters the area (x=380) at (380 - start_x) / speed seconds
        (
            "enters-at-3.0.mp4",
            "zone_intrusion",
            _walk(background, walker, 200, 60, 330),
            True,
            3.0,
            SECONDS,
            "walks in",
        ),
        (
            "passes-by.mp4",
            "zone_intrusion",
            _walk(background, walker, 40, 60, 200),
            False,
            None,
            None,
            "walks past above it",
        ),
        (
            "enters-at-1.5.mp4",
            "zone_intrusion",
            _walk(background, walker, 290, 60, 330),
            True,
            1.5,
            SECONDS,
            "walks in",
        ),
    ]
    entries = []
    for file, event_type, render, happens, start, end, note in clips:
        if not (folder / file).exists():
            write_scene(folder / file, SECONDS, render)
        entry = {"file": file, "event_type": event_type, "happens": happens, "note": note}
        if happens:
            entry.update(start_s=start, end_s=end)
        entries.append(entry)
    assert HEIGHT >= AREA[3]
    (folder / "clips.yaml").write_text(yaml.safe_dump({"clips": entries}, sort_keys=False), encoding="utf-8")
    return folder
