"""A VLM job as it travels on `streamer:vlm:jobs`: frame files and their times, not the pixels themselves."""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass

from streamer.core.types import BBox


class JobKind(str, enum.Enum):
    VERIFY = "verify"  # confirm or reject a detector event
    WATCH = "watch"  # an open-vocabulary prompt checked on periodic keyframes


class JobState(str, enum.Enum):
    """A job's lifecycle, logged at each step: queued → running → done | (retrying → running …) | dead.
    Enqueueing into a full queue may instead end it as dropped (or replace a queued job of the same event)."""

    QUEUED = "queued"
    DROPPED = "dropped"
    RUNNING = "running"
    RETRYING = "retrying"  # an answer or a backend failed; it comes back after claim_idle_s
    DONE = "done"
    DEAD = "dead"  # max_deliveries reached; on the dead-letter stream with its last error


@dataclass(frozen=True)
class TrackBox:
    track_id: int | None
    label: str
    xyxy: BBox  # source-frame pixels


@dataclass(frozen=True)
class JobFrame:
    path: str  # relative to the storage folder
    wall_ts: float
    boxes: tuple[TrackBox, ...]


@dataclass(frozen=True)
class VlmJob:
    job_id: str
    kind: JobKind
    camera: str
    event_type: str  # the rule's event type, or "watch"
    rule: str
    event_id: str | None  # None for watch jobs: a confirmed sighting becomes a new event
    track_id: int | None
    label: str
    priority: int  # 0 low … 3 critical: the lowest is dropped first when the queue is full
    fps: float  # the sampled rate the model is told (second_per_grid_ts = 2 / fps)
    frames: tuple[JobFrame, ...]
    frame_wh: tuple[int, int]  # source frame size
    model_wh: tuple[int, int]  # the frames as stored: the model's input size
    event_start_ts: float
    event_end_ts: float | None
    created_ts: float
    alert: str | None  # the alert JSON the update builds on (verify jobs)
    prompt: str | None = None  # watch jobs: what to look for
    risk_level: str | None = None  # watch jobs: the configured risk of a sighting

    @property
    def window_start_ts(self) -> float:
        return self.frames[0].wall_ts

    @property
    def window_end_ts(self) -> float:
        return self.frames[-1].wall_ts + 1.0 / self.fps

    @property
    def frame_times(self) -> tuple[float, ...]:
        """Seconds from the clip start, as the model is told them."""
        start = self.window_start_ts
        return tuple(round(frame.wall_ts - start, 3) for frame in self.frames)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> "VlmJob":
        raw = json.loads(text)
        frames = tuple(
            JobFrame(
                f["path"],
                float(f["wall_ts"]),
                tuple(TrackBox(b["track_id"], b["label"], tuple(b["xyxy"])) for b in f["boxes"]),
            )
            for f in raw.pop("frames")
        )
        return cls(
            **{
                **raw,
                "kind": JobKind(raw["kind"]),
                "frames": frames,
                "frame_wh": tuple(raw["frame_wh"]),
                "model_wh": tuple(raw["model_wh"]),
            }
        )
