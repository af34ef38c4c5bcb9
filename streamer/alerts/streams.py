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


# Keys beside the streams that one process writes and another reads (the console's live picture and video, a
# reload asked for by an admin): named here, below both, so neither imports the other for a name.
def live_key(prefix: str, camera: str, kind: str) -> str:
    return f"{prefix}:live:{camera}:{kind}"


def video_key(prefix: str, camera: str) -> str:
    return live_key(prefix, camera, "video")


def watched_key(prefix: str, camera: str) -> str:
    return live_key(prefix, camera, "watched")


def reload_key(prefix: str) -> str:
    return f"{prefix}:config:reload"
