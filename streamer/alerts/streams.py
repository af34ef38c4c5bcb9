"""Redis stream names under a configurable prefix (docs/contracts.md lists every key the service writes)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StreamNames:
    prefix: str = "streamer"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}:alerts"

    def camera_alerts(self, camera: str) -> str:
        return f"{self.prefix}:alerts:{camera}"

    @property
    def health(self) -> str:
        return f"{self.prefix}:health"

    @property
    def integrations_dead(self) -> str:
        return f"{self.prefix}:integrations:dead"

    @property
    def vlm_jobs(self) -> str:
        return f"{self.prefix}:vlm:jobs"
