"""Starts every enabled output of the config as its own consumer, and stops them: first letting each deliver what
is already on the stream (up to `drain_s`), then giving up, which leaves the rest pending for the next start."""

from __future__ import annotations

import logging
import time

import redis

from streamer.alerts.streams import StreamNames
from streamer.config.integrations import MqttIntegration, NotifyIntegration, WebhookIntegration
from streamer.config.root import StreamerConfig
from streamer.integrations.consumer import HealthReport, OutputConsumer
from streamer.integrations.delivery import Output
from streamer.redact import redact_url

log = logging.getLogger("streamer.integrations")
DRAIN_S = 10.0


class IntegrationError(Exception):
    """An output that cannot start as configured (its message says which and why)."""


def build_output(name: str, config: StreamerConfig) -> Output:
    settings = config.integrations[name]
    if isinstance(settings, MqttIntegration):
        from streamer.integrations.mqtt import MqttOutput

        return MqttOutput(name, settings, config.cameras, config.storage_dir)
    if isinstance(settings, WebhookIntegration):
        from streamer.integrations.webhook import WebhookOutput

        return WebhookOutput(name, settings)
    if isinstance(settings, NotifyIntegration):
        from streamer.integrations.notify import NotifyOutput

        return NotifyOutput(name, settings, config.storage_dir, config.timezone)
    raise IntegrationError(f"integrations.{name}: unknown kind")


class IntegrationRunner:
    def __init__(self, config: StreamerConfig, redis_url: str, names: list[str] | None = None,
                 report: HealthReport | None = None):
        """`report`: where each output's receiver state goes (HealthReporter.report: the health stream)."""
        self.config = config
        self.redis_url = redis_url
        self.report = report
        wanted = names if names is not None else list(config.integrations)
        self.names = [name for name in wanted if config.integrations[name].enabled]
        self.consumers: list[OutputConsumer] = []

    def start(self) -> None:
        """Creates each output's group (so no alert of this run comes before its position), then its thread.
        Raises IntegrationError for an output that cannot start."""
        streams = StreamNames(self.config.redis.prefix)
        for name in self.names:
            try:
                output = build_output(name, self.config)
            except ValueError as error:  # says which integration and field
                raise IntegrationError(str(error)) from None
            except OSError as error:  # a TLS file that cannot be read
                raise IntegrationError(f"integrations.{name}: {error}") from None
            consumer = OutputConsumer(name, output, self.config.integrations[name].filter, self.redis_url, streams,
                                      self.config.redis.connect_timeout_s, self.report)
            try:
                consumer.create_group()
            except redis.RedisError as error:  # the thread waits Redis out; the group is made when it is back
                log.warning("integration group not created yet: %s", error, extra={"fields": {"integration": name}})
            consumer.start()
            self.consumers.append(consumer)
            log.info("integration started", extra={"fields": {"integration": name, "kind": output.kind,
                                                              "redis": redact_url(self.redis_url)}})

    def stop(self, drain_s: float = DRAIN_S) -> None:
        for consumer in self.consumers:
            consumer.stopping.set()
        deadline = time.monotonic() + drain_s
        for consumer in self.consumers:
            if not consumer.join(max(0.0, deadline - time.monotonic())):
                log.warning("integration did not finish delivering in time; the rest stays pending for the next start",
                            extra={"fields": {"integration": consumer.name}})
            consumer.give_up.set()
        for consumer in self.consumers:
            consumer.join(5.0)
            try:
                consumer.output.close()
            except Exception as error:  # noqa: BLE001 - a receiver's close must not hide the others'
                log.warning("integration close failed: %s", error, extra={"fields": {"integration": consumer.name}})
            if self.report is not None:
                self.report(f"integration:{consumer.name}", "integration", "stopped", "")
