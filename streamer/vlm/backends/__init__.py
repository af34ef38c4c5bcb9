"""The VLM backends behind one small interface: given requests (frames with their times, a prompt), return the
model's raw text for each. `transformers` runs Qwen2.5-VL in-process, `openai` calls a server (vLLM, SGLang,
DashScope), `scripted` is a test double that replays canned answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from streamer.config.vlm import BackendKind, VlmConfig


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


def build_backend(config: VlmConfig) -> VlmBackend:
    if config.backend is BackendKind.SCRIPTED:
        from streamer.vlm.backends.scripted import ScriptedTestDouble

        return ScriptedTestDouble.from_file(config.scripted.responses)
    if config.backend is BackendKind.OPENAI:
        from streamer.vlm.backends.openai_api import OpenAICompatibleBackend

        return OpenAICompatibleBackend(config.openai)
    from streamer.vlm.backends.local import TransformersBackend

    return TransformersBackend.load(config.transformers)
