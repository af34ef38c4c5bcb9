"""Recording sections of the YAML: `record:` per camera (what to keep) and `storage:` (how much disk)."""

from __future__ import annotations

import enum

from pydantic import ByteSize, Field, model_validator

from streamer.config.base import StrictModel


class RecordMode(str, enum.Enum):
    CONTINUOUS = "continuous"  # every segment, kept for retain_days
    EVENTS = "events"  # only segments that overlap an event ± pre/post roll
    OFF = "off"  # nothing recorded; alerts carry clip: null


class RecordConfig(StrictModel):
    mode: RecordMode = RecordMode.CONTINUOUS
    segment_s: float = Field(10.0, ge=1.0, le=600.0, description="Target segment length; cut at the next keyframe.")
    pre_roll_s: float = Field(5.0, ge=0.0, le=300.0, description="Event clips (and `events` mode) start this much earlier.")
    post_roll_s: float = Field(5.0, ge=0.0, le=300.0, description="…and end this much later.")
    retain_days: float = Field(7.0, gt=0, le=3650, description="Segments older than this are deleted.")
    event_retain_days: float = Field(30.0, gt=0, le=3650, description="Segments overlapping an event, and event clips.")
    max_gap_s: float = Field(
        2.0, gt=0, le=60.0, description="A PTS jump forward larger than this (or any jump back) starts a new segment."
    )

    @model_validator(mode="after")
    def _events_kept_longer(self) -> "RecordConfig":
        if self.event_retain_days < self.retain_days:
            raise ValueError(
                f"event_retain_days ({self.event_retain_days:g}) must be at least retain_days ({self.retain_days:g})"
            )
        return self


class StorageConfig(StrictModel):
    max_size: ByteSize | None = Field(
        None, description="Disk budget for recordings and event clips, e.g. '200GB'; oldest deleted first. None: no cap."
    )
    min_free: ByteSize = Field(
        ByteSize(1 << 30), description="Recorders pause (and report on the health stream) below this much free disk."
    )
    retention_every_s: float = Field(60.0, ge=1.0, le=86_400, description="How often retention runs.")
    cuts_max_size: ByteSize = Field(
        ByteSize(1 << 30), description="Clips cut on demand for playback and answers (the console's timeline, a hit's "
                                       "clip) are kept up to this size for the next viewer, the least recently played "
                                       "deleted first; they count in max_size and go first when it is reached.")
    cuts_max_age_h: float = Field(24.0, gt=0, le=24 * 365, description="…and a cut not played for this long is deleted.")
