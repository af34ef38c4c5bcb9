"""The `vlm:` section: which Qwen2.5-VL backend verifies events, how clips are sampled for it, and the job queue.
Omitted: no VLM, and every alert says `verification: "unverified"`."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from streamer.config.base import Slug, StrictModel
from streamer.core.types import RiskLevel

PATCH_FACTOR = 28  # Qwen2.5-VL: 14-pixel patches merged 2×2; frame sides are multiples of this
RISK_ORDER: dict[str, int] = {"low": 0, "medium": 1, "high": 2, "critical": 3}


class BackendKind(str, enum.Enum):
    TRANSFORMERS = "transformers"
    OPENAI = "openai"
    SCRIPTED = "scripted"  # a test double: canned answers from a file


BoxSpace = Literal["input_pixels", "relative_1000"]


class SamplingConfig(StrictModel):
    fps: float = Field(
        2.0, gt=0, le=8, description="Frames per second sent to the model; 2 / fps must be a whole number."
    )
    pre_s: float = Field(3.0, ge=0, le=30, description="The clip starts this long before the event.")
    post_s: float = Field(
        3.0, ge=0, le=30, description="…and ends this long after it (for a `new` event: after it was seen)."
    )
    max_window_s: float = Field(
        30.0, gt=1, le=120, description="Longest clip sent; a longer event sends its last part at `end`."
    )
    min_pixels: int = Field(128 * 28 * 28, ge=4 * 28 * 28, description="Per frame, a multiple of 28×28.")
    max_pixels: int = Field(
        192 * 28 * 28, ge=4 * 28 * 28, le=16384 * 28 * 28, description="Per frame, a multiple of 28×28."
    )

    @field_validator("fps")
    @classmethod
    def _whole_seconds_per_grid(cls, fps: float) -> float:
        # Qwen2.5-VL merges 2 frames per temporal patch; its time positions are in seconds only when 2 / fps is whole
        ratio = 2 / fps
        if abs(ratio - round(ratio)) > 1e-9:
            raise ValueError(f"2 / fps must be a whole number (2 / {fps:g} = {ratio:g}); use 2, 1, 0.5, 0.4, 0.25…")
        return fps

    @field_validator("min_pixels", "max_pixels")
    @classmethod
    def _patch_multiple(cls, pixels: int) -> int:
        if pixels % (PATCH_FACTOR * PATCH_FACTOR):
            raise ValueError(f"{pixels} is not a multiple of 28×28 = 784")
        return pixels

    @model_validator(mode="after")
    def _budget_order(self) -> "SamplingConfig":
        if self.min_pixels > self.max_pixels:
            raise ValueError(f"min_pixels ({self.min_pixels}) is larger than max_pixels ({self.max_pixels})")
        if self.pre_s + self.post_s >= self.max_window_s:
            raise ValueError("pre_s + post_s must be shorter than max_window_s")
        return self


class QueueConfig(StrictModel):
    max_jobs: int = Field(500, ge=1, le=1_000_000, description="Jobs waiting (not yet taken by a worker) at most.")
    max_deliveries: int = Field(
        3, ge=1, le=20, description="Tries of one job before it goes to the dead-letter stream."
    )
    claim_idle_s: float = Field(
        120.0, gt=0, le=86_400, description="A job taken this long ago and not done is retried."
    )
    batch: int = Field(4, ge=1, le=64, description="Jobs a worker takes at once (one generate call when they fit).")


class TransformersConfig(StrictModel):
    model: str = Field(
        "Qwen/Qwen2.5-VL-3B-Instruct", description="A local folder or a Hugging Face id (your own cache)."
    )
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$")
    max_new_tokens: int = Field(512, ge=16, le=8192)
    adapter: Path | None = Field(
        None,
        description="A LoRA adapter folder (`streamer vlm finetune`, or any peft LoRA "
        "of this base), merged into `model` when it loads.",
    )


class OpenAIConfig(StrictModel):
    base_url: str = Field(pattern=r"^https?://", description="e.g. http://vllm:8000/v1")
    model: str = Field("Qwen/Qwen2.5-VL-7B-Instruct", min_length=1)
    api_key: str | None = Field(None, description="Sent as a bearer token; use ${ENV}.")
    send: Literal["images", "video"] = Field(
        "images",
        description="images: one image part per frame with its time; "
        "video: an MP4 part with fps in mm_processor_kwargs.",
    )
    timeout_s: float = Field(120.0, gt=0, le=3600)
    retries: int = Field(3, ge=0, le=10)
    concurrency: int = Field(4, ge=1, le=256, description="Requests in flight per worker.")
    max_tokens: int = Field(512, ge=16, le=8192)


class ScriptedConfig(StrictModel):
    responses: Path = Field(
        description="YAML: event type (or '*') → list of answers, used in turn. Tests and demos only."
    )


class HoldConfig(StrictModel):
    types: list[str] = Field(
        default_factory=list, description="Event types whose `new` alert waits for the VLM's answer."
    )
    timeout_s: float = Field(30.0, gt=0, le=600, description="…or this long, then it goes out as `pending`.")


class VlmConfig(StrictModel):
    backend: BackendKind
    transformers: TransformersConfig = TransformersConfig()
    openai: OpenAIConfig | None = None
    scripted: ScriptedConfig | None = None
    verify: list[str] | Literal["all"] = Field("all", description="Event types sent to the VLM.")
    priority: dict[str, RiskLevel] = Field(
        default_factory=lambda: {
            "fall": "critical",
            "zone_intrusion": "high",
            "line_crossing": "medium",
            "dwell": "medium",
            "count": "low",
        },
        description="Which jobs are dropped first when the queue is full (lowest first); unknown types: medium.",
    )
    sampling: SamplingConfig = SamplingConfig()
    queue: QueueConfig = QueueConfig()
    hold: HoldConfig = HoldConfig()
    box_coordinates: Literal["auto", "input_pixels", "relative_1000"] = Field(
        "auto",
        description="How the model writes bbox_2d: Qwen2.5-VL in pixels of its resized input (input_pixels), "
        "Qwen2-VL and Qwen3-VL in thousandths of the width and height (relative_1000); auto "
        "reads it from the model's name.",
    )
    workers: int = Field(
        0, ge=0, le=8, description="VLM workers `streamer run` starts itself (0: run `streamer vlm-worker`)."
    )
    drain_timeout_s: float = Field(
        120.0, ge=0, le=3600, description="At the end of a run, wait this long for its jobs."
    )

    @model_validator(mode="after")
    def _backend_section(self) -> "VlmConfig":
        if self.backend is BackendKind.OPENAI and self.openai is None:
            raise ValueError("backend 'openai' needs an 'openai:' section with base_url")
        if self.backend is BackendKind.SCRIPTED and self.scripted is None:
            raise ValueError("backend 'scripted' needs a 'scripted:' section with responses")
        return self

    def box_space(self, model_name: str) -> BoxSpace:
        """`box_coordinates`, with auto settled by the model's name (Qwen2-VL, Qwen3-VL: 0–1000; else pixels)."""
        if self.box_coordinates != "auto":
            return self.box_coordinates
        name = model_name.lower().replace("_", "-")
        return "relative_1000" if any(f"qwen{v}-vl" in name for v in ("2", "3")) else "input_pixels"

    def verifies(self, event_type: str) -> bool:
        return self.verify == "all" or event_type in self.verify

    def priority_of(self, event_type: str) -> int:
        return RISK_ORDER[self.priority.get(event_type, "medium")]


class WatchConfig(StrictModel):
    """An open-vocabulary rule written as a prompt: a keyframe window every `every_s` is asked about it."""

    name: Slug
    prompt: str = Field(
        min_length=3, max_length=500, description='What to look for, e.g. "a person climbing the fence".'
    )
    every_s: float = Field(60.0, ge=2, le=86_400)
    window_s: float = Field(4.0, ge=1, le=60, description="Seconds of video per look.")
    risk_level: RiskLevel = "high"
