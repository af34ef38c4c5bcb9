"""Recordings with known events for questions: clips of a real person photo over a real street frame (see
scenes.py) that fall, walk into a zone and across a line at exact times, recorded by `streamer run` itself with
start times a few minutes before now (questions are about the past). The truth is kept beside them."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from testkit.scenes import fall_scene, walk_scene

ZONE = "[[400, 200], [640, 200], [640, 345], [400, 345]]"
LINE = "start: [320, 150], end: [320, 345]"


@dataclass(frozen=True)
class Truth:
    camera: str
    type: str
    start_ts: float


@dataclass(frozen=True)
class Recorded:
    config: Path
    storage: Path
    origin_ts: float  # wall clock of the first camera's first frame
    truths: tuple[Truth, ...]
    run_log: str


def camera_yaml(name: str, clip: Path, start_ts: float, rules: str, zones: str = "", extra: str = "") -> str:
    start_iso = datetime.fromtimestamp(start_ts, timezone.utc).isoformat()
    return f"""
  {name}:
    url: {clip}
    start_time: "{start_iso}"
    detect:
      fps: 5
      model: {{weights: yolo26n.pt, classes: [person]}}
      {extra}
    record: {{segment_s: 4}}
    {zones}
    rules: {rules}
"""


def build(
    folder: Path,
    models_dir: Path,
    bikes_mp4: Path,
    timezone_name: str = "Europe/Berlin",
    vlm_section: str = "",
    with_plaza: bool = True,
    fall_at: float = 3.1,
    walk_speed: float = 80.0,
) -> Recorded:
    """Three cameras: `lobby` (a fall at fall_at s), `yard-cam` (a person walking right: across the `gate` line at
    x=320 and into the `loading` zone at x>=400), and `plaza` (the same walk, no rules: tracks but no event)."""
    folder.mkdir(parents=True, exist_ok=True)
    origin = float(int(time.time()) - 900)
    fall = fall_scene(folder / "fall.mp4", bikes_mp4, fall_at=fall_at, gone_at=fall_at + 3.4, seconds=fall_at + 4.9)
    walk = walk_scene(folder / "walk.mp4", bikes_mp4, start_x=60, speed=walk_speed, gone_at=6.5, seconds=8.0)
    yard_start, plaza_start = origin + 60, origin + 120
    cameras = camera_yaml(
        "lobby",
        fall,
        origin,
        "[{type: fall, fall_model: fall, min_down_s: 1.0, end_after_s: 1.0}]",
        extra="extra_models: {fall: {weights: yolov8-fall.pt, confidence: 0.5}}",
    )
    cameras += camera_yaml(
        "yard-cam",
        walk,
        yard_start,
        f"[{{type: zone_intrusion, zone: loading, min_inside_s: 0.5, end_after_s: 1.0}}, "
        f"{{type: line_crossing, name: gate, {LINE}, direction: in}}]",
        zones=f"zones: {{loading: {{polygon: {ZONE}}}}}",
    )
    if with_plaza:
        cameras += camera_yaml("plaza", walk, plaza_start, "[]")
    config = folder / "cameras.yaml"
    config.write_text(f"""
storage_dir: {folder / "data"}
models_dir: {models_dir}
timezone: {timezone_name}
api: {{enabled: false}}
{vlm_section}
cameras:{cameras}""")
    # feet at x = 60 + speed t: the line x=320 at (320-60)/speed s, the zone edge x=400 at (400-60)/speed s
    truths = (
        Truth("lobby", "fall", origin + fall_at),
        Truth("yard-cam", "line_crossing", yard_start + 260 / walk_speed),
        Truth("yard-cam", "zone_intrusion", yard_start + 340 / walk_speed),
    )
    result = subprocess.run(
        [sys.executable, "-m", "streamer", "run", "--config", str(config)], capture_output=True, text=True, timeout=600
    )
    if result.returncode != 0:
        raise RuntimeError(f"streamer run failed: {result.stderr[-3000:]}")
    return Recorded(config, folder / "data", origin, truths, result.stderr)
