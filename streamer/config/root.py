"""Top level of the YAML: folders, time zone, logging, Redis, the VLM, queries, the API, the inference engine and
the cameras."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from streamer.config.base import Slug, StrictModel
from streamer.config.cameras import CameraConfig
from streamer.config.engine import EngineConfig
from streamer.config.index import IndexConfig
from streamer.config.integrations import IntegrationConfig, check_integrations
from streamer.config.query import ApiConfig, QueryConfig
from streamer.config.recording import StorageConfig
from streamer.config.redis import RedisConfig
from streamer.config.site import HealthConfig, SiteConfig
from streamer.config.vlm import VlmConfig


class LoggingConfig(StrictModel):
    level: Literal["debug", "info", "warning", "error"] = Field("info", description="Lowest level logged.")
    format: Literal["text", "json"] = Field("text", description="json: one object a line (--log-format overrides).")
    stats_interval_s: float = Field(5.0, gt=0, le=3600, description="How often each camera logs its figures.")


class StreamerConfig(StrictModel):
    version: Literal[1] = Field(1, description="Config format version.")
    storage_dir: Path = Field(
        Path("data"),
        description="Recordings, clips, snapshots, the index, the alert spool and the "
        "embedded Redis; relative to the config file's folder (default: `data` beside it).",
    )
    models_dir: Path = Field(Path("models"), description="Where `streamer models pull` puts weights.")
    timezone: str = Field("UTC", description="IANA zone used to show times (stored times are epoch seconds).")
    logging: LoggingConfig = LoggingConfig()
    redis: RedisConfig = RedisConfig()
    storage: StorageConfig = StorageConfig()
    index: IndexConfig = IndexConfig()
    vlm: VlmConfig | None = Field(None, description="Qwen2.5-VL verification; omitted: alerts stay 'unverified'.")
    query: QueryConfig = QueryConfig()
    api: ApiConfig = ApiConfig()
    engine: EngineConfig = EngineConfig()
    health: HealthConfig = HealthConfig()
    site: SiteConfig | None = Field(
        None,
        description="Many hosts, one site: every host runs `streamer run` on this "
        "file and the live hosts share the cameras under leases on the shared Redis "
        "(redis.url). Omitted: this host runs every enabled camera.",
    )
    integrations: dict[Slug, IntegrationConfig] = Field(
        default_factory=dict,
        description="Named outputs besides the Redis stream (MQTT and Home Assistant, webhooks, "
        "notifications), each a consumer group of the alert stream; `streamer run` runs them, and so does "
        "`streamer integrations run` on another host.",
    )
    cameras: dict[Slug, CameraConfig] = Field(
        min_length=1,
        description="By name (letters, digits, - and _): the name in every alert, stream, file path and command.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone '{value}'") from None
        return value

    @model_validator(mode="after")
    def _vlm_fits_cameras(self) -> "StreamerConfig":
        for name, camera in self.cameras.items():
            if camera.watch and self.vlm is None:
                raise ValueError(f"cameras.{name}.watch needs a 'vlm:' section (a backend that looks at the keyframes)")
            # the VLM clip is sampled from the frames the detector sees
            if self.vlm is not None and camera.detect.fps < self.vlm.sampling.fps:
                raise ValueError(
                    f"cameras.{name}.detect.fps ({camera.detect.fps:g}) is below vlm.sampling.fps "
                    f"({self.vlm.sampling.fps:g}); the VLM clip is sampled from the detected frames"
                )
        check_integrations(self.integrations, set(self.cameras))
        if self.site is not None and self.redis.url is None:
            raise ValueError(
                "site needs redis.url: the hosts of a site share one Redis (an embedded one is each host's own)"
            )
        if self.site is None:
            pinned = sorted(name for name, camera in self.cameras.items() if camera.node is not None)
            if pinned:
                raise ValueError(f"cameras.{pinned[0]}.node pins a camera to a host of a site: add a 'site:' section")
        return self

    def enabled_cameras(self) -> dict[str, CameraConfig]:
        return {name: cam for name, cam in self.cameras.items() if cam.enabled}

    @property
    def index_target(self) -> Path | str:
        """Where the index is: its database URL, or the storage folder that holds its SQLite file."""
        return self.index.url or self.storage_dir
