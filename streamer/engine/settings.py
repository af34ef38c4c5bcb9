"""How an engine loads its models; made by the supervisor, handed to the engine process (no heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LoadSettings:
    device: str
    cache_dir: Path
    max_batch: int
    imgsz: tuple[int, int]  # the largest input of the engine's cameras: exports are dynamic below it
    threads: int | None
    calibration: tuple[Path, ...] = ()  # video files whose frames calibrate an int8 model, best first
