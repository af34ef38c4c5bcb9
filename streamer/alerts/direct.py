"""Alerts published straight to Redis through the delivery script (no spool): for a process that has Redis or
nothing to do, such as the VLM worker, whose jobs come from Redis and are acknowledged only once their alert
is in."""

from __future__ import annotations

import enum

import redis

from streamer import metrics
from streamer.alerts import deliver_script
from streamer.alerts.payload import AlertPayload
from streamer.alerts.streams import StreamNames
from streamer.config.redis import RedisConfig


class PublishOutcome(enum.StrEnum):
    PUBLISHED = "published"
    HELD = "held"  # the event's `new` is not out yet: it will carry this verdict when it goes
    DUPLICATE = "duplicate"  # this message id was delivered before (a job redone after a crash)


class AlertWriter:
    """Synchronous delivery for the VLM worker: it has Redis (that is where its jobs come from)."""

    def __init__(self, client: redis.Redis, config: RedisConfig):
        self.client = client
        self.config = config
        self.names = StreamNames(config.prefix)
        self._script = client.register_script(deliver_script.SCRIPT)

    def publish(self, message_id: str, payload: AlertPayload, owner: str) -> PublishOutcome:
        streams = (self.names.alerts, self.names.camera_alerts(payload.camera))
        keys, args = deliver_script.script_call(
            self.config.prefix,
            message_id,
            streams,
            payload.to_json(),
            self.config.maxlen,
            self.config.dedupe_ttl_s,
            owner,
        )
        result = self._script(keys=keys, args=args)
        if result in (None, False, 0):
            return PublishOutcome.DUPLICATE
        if result == b"held":
            return PublishOutcome.HELD
        metrics.count_alert(payload.camera, payload.type, payload.state)
        return PublishOutcome.PUBLISHED
