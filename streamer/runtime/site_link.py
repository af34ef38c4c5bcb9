"""What the supervisor needs of the site: the cameras this host runs now (each with its lease value, which fences
its worker's writes), word that a camera it gave up has stopped, and the takeovers from dead hosts, each of which
becomes a `camera_offline` alert (from when the dead host went silent) and the `end` of every event that host left
open. Takeovers arrive on the coordinator's thread and are acted on in the supervisor's loop."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from zoneinfo import ZoneInfo

import redis

from streamer.alerts.orphans import orphan_ends
from streamer.alerts.spool import SpoolRecord
from streamer.alerts.streams import StreamNames
from streamer.runtime.camera_health import CameraHealth
from streamer.site.coordinator import SiteCoordinator, Takeover

log = logging.getLogger("streamer.site")


class SiteLink:
    def __init__(
        self,
        coordinator: SiteCoordinator,
        health: CameraHealth,
        submit: Callable[[list[SpoolRecord]], None],
        client_factory: Callable[[], redis.Redis],
        streams: StreamNames,
        tz: ZoneInfo,
    ):
        self.coordinator = coordinator
        self.health = health
        self.submit = submit
        self._client_factory = client_factory
        self.streams = streams
        self.tz = tz
        self._takeovers: deque[Takeover] = deque()
        self._lock = threading.Lock()
        coordinator.on_takeover = self._queue

    @property
    def node(self) -> str:
        return self.coordinator.node

    def start(self) -> None:
        self.coordinator.start()

    def running(self) -> dict[str, str]:
        return self.coordinator.running()

    def set_cameras(self, cameras) -> None:
        """A reloaded config's enabled cameras (with their pins): the shares are worked out again at the next tick."""
        self.coordinator.set_pins({name: camera.node for name, camera in cameras.items()})

    def stopped(self, camera: str) -> None:
        self.coordinator.stopped(camera)

    def leave(self) -> None:
        self.coordinator.leave()

    def stop(self) -> None:
        self.coordinator.stop()

    def _queue(self, takeover: Takeover) -> None:
        with self._lock:
            self._takeovers.append(takeover)

    def service(self) -> None:
        """In the supervisor's loop: act on the takeovers the coordinator made since the last call."""
        while True:
            with self._lock:
                if not self._takeovers:
                    return
                takeover = self._takeovers.popleft()
            reason = f"host {takeover.from_node} stopped answering; the camera moved to {self.node}"
            try:
                client = self._client_factory()
                try:
                    ends = orphan_ends(client, self.streams, takeover.camera, takeover.silent_since_ts, reason, self.tz)
                finally:
                    client.close()
            except redis.RedisError as error:
                log.warning(
                    "the events left open by %s are not ended yet (redis: %s); tried again", takeover.from_node, error
                )
                with self._lock:
                    self._takeovers.appendleft(takeover)
                return
            if ends:
                self.submit(ends)
                log.info(
                    "events left open by a dead host ended",
                    extra={"fields": {"camera": takeover.camera, "from": takeover.from_node, "events": len(ends)}},
                )
            self.health.host_gone(takeover.camera, takeover.from_node, takeover.silent_since_ts)
