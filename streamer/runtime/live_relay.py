"""On a site, the camera's live picture and figures also go to the shared Redis (`<prefix>:live:<camera>:jpg` and
`:json`, each expiring after a few missed updates), so that `streamer serve` on any host shows every camera,
whichever host runs it. Best effort on the worker's own connection: a Redis that is away costs a picture, never
a frame (said once)."""

from __future__ import annotations

import logging

import redis

from streamer.alerts.redis_access import connect
from streamer.alerts.streams import live_key

log = logging.getLogger("streamer.worker")


class LiveRelay:
    def __init__(self, url: str, prefix: str, camera: str, every_s: float, timeout_s: float = 1.0):
        self.client = connect(url, timeout_s, retry=True)
        self.prefix = prefix
        self.camera = camera
        self.ttl_s = max(10, int(every_s * 5) + 1)  # gone soon after the camera stops, or moves host
        self._failed = False

    def send(self, kind: str, data: bytes) -> None:
        try:
            self.client.set(live_key(self.prefix, self.camera, kind), data, ex=self.ttl_s)
            self._failed = False
        except redis.RedisError as error:
            if not self._failed:
                log.warning("live picture not shared: %s", error, extra={"fields": {"camera": self.camera}})
            self._failed = True

    def close(self) -> None:
        self.client.close()
