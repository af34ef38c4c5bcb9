"""Configuration: YAML → ${ENV} substitution → pydantic models with every error named by its YAML path."""

from streamer.config.cameras import (
    CameraConfig,
    ConnectionConfig,
    DetectConfig,
    ModelSpec,
    SourceKind,
    TrackerConfig,
    ZoneConfig,
)
from streamer.config.loader import ConfigError, ConfigIssue, load_config, parse_config_text
from streamer.config.root import LoggingConfig, StreamerConfig

__all__ = [
    "CameraConfig",
    "ConfigError",
    "ConfigIssue",
    "ConnectionConfig",
    "DetectConfig",
    "LoggingConfig",
    "ModelSpec",
    "SourceKind",
    "StreamerConfig",
    "TrackerConfig",
    "ZoneConfig",
    "load_config",
    "parse_config_text",
]
