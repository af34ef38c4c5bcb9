"""What every VLM backend takes and gives: requests (frames with their times, a prompt) and the model's raw text
for each. The backends import this module and the package's factory imports them, so the two never import each
other."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class VlmRequest:
    job_id: str
    event_type: str
    system: str
    prompt: str
    frames: tuple[Path, ...]  # JPEGs at the model's input size, in time order
    frame_times: tuple[float, ...]  # seconds from the clip start
    fps: float  # the real sampling rate: Qwen2.5-VL's second_per_grid_ts = 2 / fps
    min_pixels: int
    max_pixels: int
    history: tuple[tuple[str, str], ...] = ()  # (earlier answer, correction) when asked again


@dataclass(frozen=True)
class VlmReply:
    text: str
    input_wh: tuple[int, int] | None = None  # the frame size the model saw (from video_grid_thw)
    vision_tokens: int | None = None
    prompt_tokens: int | None = None  # the whole prompt, vision included, where the backend says
    completion_tokens: int | None = None


class VlmBackend(Protocol):
    model_name: str

    def answer(self, requests: Sequence[VlmRequest]) -> list[VlmReply | Exception]:
        """One result per request, in order; an exception in the list fails only its own request."""
        ...

    def close(self) -> None: ...
