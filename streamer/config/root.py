"""Top level of the YAML: folders, time zone, logging, Redis and the cameras."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from streamer.config.base import Slug, StrictModel
from streamer.config.cameras import CameraConfig
from streamer.config.recording import StorageConfig
from streamer.config.redis import RedisConfig


class LoggingConfig(StrictModel):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"
    stats_interval_s: float = Field(5.0, gt=0, le=3600, description="How often each camera logs its figures.")


class StreamerConfig(StrictModel):
    version: Literal[1] = 1
    storage_dir: Path = Field(Path("data"), description="Recordings, snapshots, spool; relative to the config file.")
    models_dir: Path = Field(Path("models"), description="Where `streamer models pull` puts weights.")
    timezone: str = Field("UTC", description="IANA zone used to show times (stored times are epoch seconds).")
    logging: LoggingConfig = LoggingConfig()
    redis: RedisConfig = RedisConfig()
    storage: StorageConfig = StorageConfig()
    cameras: dict[Slug, CameraConfig] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone '{value}'") from None
        return value

    def enabled_cameras(self) -> dict[str, CameraConfig]:
        return {name: cam for name, cam in self.cameras.items() if cam.enabled}
