"""The `site:` section: many hosts, one site. Every host runs `streamer run` on the same file; the cameras are
shared among the live hosts (a camera may be pinned to one with `node:`), each run by exactly one host at a time
under a lease on the shared Redis. Omitted: this host runs every enabled camera, as on a single machine.

The `health:` section: when a camera counts as offline, which raises an alert of type `camera_offline`."""

from __future__ import annotations

from pydantic import Field, model_validator

from streamer.config.base import StrictModel


class SiteConfig(StrictModel):
    lease_s: float = Field(
        6.0,
        ge=2.0,
        le=120.0,
        description="A host that has not renewed its lease on a camera for "
        "this long loses it, and another host takes the camera: most of a dead host's failover time.",
    )
    renew_every_s: float = Field(
        1.0,
        gt=0,
        le=30.0,
        description="How often a host renews its leases, says it is alive "
        "and looks at the other hosts; well under lease_s.",
    )

    @model_validator(mode="after")
    def _renewed_in_time(self) -> "SiteConfig":
        if self.renew_every_s * 2 > self.lease_s:
            raise ValueError(
                f"renew_every_s ({self.renew_every_s:g}) must be at most half of lease_s ({self.lease_s:g}): "
                "one late renewal must not lose a lease"
            )
        return self


class HealthConfig(StrictModel):
    offline_after_s: float = Field(
        30.0,
        ge=1.0,
        le=86_400,
        description="A camera whose source has been reconnecting or "
        "failed this long is offline: a `camera_offline` alert goes out, and its `end` when "
        "frames come again. A camera whose host is gone is offline at once.",
    )
