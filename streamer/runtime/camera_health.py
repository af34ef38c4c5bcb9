"""Camera health as alerts of their own type, `camera_offline`, on the alert stream with every other alert (so MQTT,
webhooks and notifications carry it like any other): its `new` when a camera goes offline, its `end` when frames
come again.

A camera is offline when its source has been reconnecting or failed for `health.offline_after_s`, or at once when
the host that ran it died (the host that takes it over says so, from when the dead host was last heard of). The
offline state is kept in Redis (`<prefix>:camera_offline:<camera>`), so whichever host runs the camera next ends
it, and a second host (or run) seeing the same outage adopts the first one's event instead of raising another."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import redis

from streamer.alerts.payload import CAMERA_OFFLINE, AlertPayload, AlertSource
from streamer.alerts.spool import SpoolRecord
from streamer.alerts.streams import StreamNames
from streamer.config.site import HealthConfig
from streamer.core.timefmt import iso_time

log = logging.getLogger("streamer.health")

_DOWN_STATES = ("reconnecting", "failed")


@dataclass
class _Down:
    since_ts: float
    reason: str
    at_once: bool  # a dead host: offline now, not after offline_after_s


def offline_payload(
    camera: str, event_id: str, start_ts: float, reason: str, signal: str, tz: ZoneInfo, end_ts: float | None = None
) -> AlertPayload:
    start, end = round(start_ts, 3), None if end_ts is None else round(max(end_ts, start_ts), 3)
    return AlertPayload(
        event_id=event_id,
        camera=camera,
        type=CAMERA_OFFLINE,
        state="new" if end is None else "end",
        label="camera",
        track_id=None,
        start_ts=start,
        start_iso=iso_time(start, tz),
        end_ts=end,
        end_iso=None if end is None else iso_time(end, tz),
        confidence=1.0,
        bbox_xyxy=(0, 0, 0, 0),
        frame_wh=(0, 0),
        verification="unverified",
        risk_level=None,
        description=reason,
        snapshot="",
        clip=None,
        source=AlertSource(rule="camera_health", model="none", signal=signal),
    )


class CameraHealth:
    def __init__(
        self,
        config: HealthConfig,
        submit: Callable[[list[SpoolRecord]], None],
        client_factory: Callable[[], redis.Redis],
        streams: StreamNames,
        tz: ZoneInfo,
    ):
        self.config = config
        self.submit = submit
        self._client_factory = client_factory
        self._client: redis.Redis | None = None
        self.streams = streams
        self.tz = tz
        self._down: dict[str, _Down] = {}
        self._announced: dict[str, dict] = {}
        self._ending: dict[str, float] = {}  # back online at this time; its `end` not yet out (Redis was away)

    def source(self, camera: str, state: str, reason: str, ts: float | None = None) -> None:
        """A camera's source changed state (the supervisor hears it from the worker)."""
        ts = time.time() if ts is None else ts
        if state in _DOWN_STATES:
            self._down.setdefault(camera, _Down(ts, reason or state, False))
        elif state == "streaming":
            self._back(camera, ts)

    def host_gone(self, camera: str, node: str, silent_since_ts: float) -> None:
        """This host took the camera over from one that died: it has been down since that host went silent."""
        self._down[camera] = _Down(silent_since_ts, f"host {node} stopped answering; the camera moved", True)
        self.check()

    def check(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        for camera in list(self._ending):
            self._finish(camera)
        for camera, down in list(self._down.items()):
            if camera not in self._announced and (down.at_once or now - down.since_ts >= self.config.offline_after_s):
                self._announce(camera, down)

    def _announce(self, camera: str, down: _Down) -> None:
        digest = hashlib.blake2b(f"{camera}|offline|{down.since_ts:.3f}".encode(), digest_size=8).hexdigest()
        state = {
            "event_id": f"{camera}-{digest}",
            "start_ts": down.since_ts,
            "reason": down.reason,
            "signal": "host_gone" if down.at_once else "source",
        }
        try:
            client = self._redis()
            if not client.set(_key(self.streams, camera), json.dumps(state), nx=True):
                raw = client.get(
                    _key(self.streams, camera)
                )  # already offline: another host, or an earlier run, said so
                self._announced[camera] = json.loads(raw) if raw else state
                return
        except redis.RedisError as error:
            self._client = None
            log.warning("camera health not announced yet (redis: %s); tried again", error)
            return
        self._announced[camera] = state
        self._publish(camera, state, None)
        log.warning(
            "camera offline",
            extra={"fields": {"camera": camera, "since": iso_time(down.since_ts, self.tz), "reason": down.reason}},
        )

    def _back(self, camera: str, ts: float) -> None:
        down = self._down.pop(camera, None)
        if down is not None and down.at_once and camera not in self._announced:
            self._announce(camera, down)  # a takeover quicker than a check: its outage is still told
        self._ending[camera] = ts
        self._finish(camera)

    def _finish(self, camera: str) -> None:
        ts = self._ending[camera]
        state = self._announced.get(camera)
        try:
            client = self._redis()
            if state is None:
                raw = client.get(_key(self.streams, camera))  # offline as another host or an earlier run saw it
                state = json.loads(raw) if raw else None
            if state is not None:
                self._publish(camera, state, ts)
                client.delete(_key(self.streams, camera))
        except redis.RedisError as error:
            self._client = None
            log.warning("camera back online, not yet said (redis: %s); tried again", error)
            return
        self._ending.pop(camera)
        self._announced.pop(camera, None)
        if state is not None:
            log.info(
                "camera online", extra={"fields": {"camera": camera, "offline_s": round(ts - state["start_ts"], 1)}}
            )

    def _publish(self, camera: str, state: dict, end_ts: float | None) -> None:
        payload = offline_payload(
            camera, state["event_id"], state["start_ts"], state["reason"], state["signal"], self.tz, end_ts
        )
        message_id = f"{state['event_id']}:{payload.state}"  # the same outage said twice is one message
        self.submit(
            [
                SpoolRecord(
                    message_id, (self.streams.alerts, self.streams.camera_alerts(camera)), payload.to_json(), None
                )
            ]
        )

    def close(self) -> None:
        """Its connection goes before the service's last flush (an embedded Redis stops only without clients)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _redis(self) -> redis.Redis:
        if self._client is None:
            self._client = self._client_factory()
        return self._client


def _key(streams: StreamNames, camera: str) -> str:
    return f"{streams.prefix}:camera_offline:{camera}"
