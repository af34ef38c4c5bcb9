"""The `engine:` section: one inference process per device that batches the frames of every camera."""

from __future__ import annotations

import enum
from pathlib import Path

from pydantic import Field

from streamer.config.base import StrictModel


class EngineMode(str, enum.Enum):
    PROCESS = "process"  # `streamer run`: one engine process per device, frames through shared memory
    IN_PROCESS = "in_process"  # each worker runs the models itself (a single camera, tests, debugging)


class EngineConfig(StrictModel):
    mode: EngineMode = Field(EngineMode.PROCESS, description="process: one shared engine per device.")
    max_batch: int = Field(8, ge=1, le=256, description="Frames of any cameras run in one inference call.")
    max_wait_ms: float = Field(
        10.0,
        ge=0,
        le=1000,
        description="A frame waits at most this long for others to fill the batch "
        "(not when every camera has one ready).",
    )
    inflight_per_camera: int = Field(4, ge=1, le=16, description="Frames a camera may have in the engine at once.")
    threads: int | None = Field(
        None, ge=1, le=256, description="CPU inference threads (default: every core; the decoders share them)."
    )
    calibration: list[Path] = Field(
        default_factory=list,
        description="Video files whose frames calibrate `detect.precision: int8` models, "
        "before the cameras' newest recordings, their files and the sample videos.",
    )
