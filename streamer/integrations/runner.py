"""Starts every enabled output of the config as its own consumer, and stops them: first letting each deliver what
is already on the stream (up to `drain_s`), then giving up, which leaves the rest pending for the next start."""

from __future__ import annotations

import logging
import time

import redis

from streamer.alerts.streams import StreamNames
from streamer.config.integrations import MqttIntegration, NotifyIntegration, WebhookIntegration
from streamer.config.root import StreamerConfig
from streamer.core.health import HealthChange, HealthListener
from streamer.integrations.consumer import OutputConsumer
from streamer.integrations.delivery import Output
from streamer.redact import redact_url

log = logging.getLogger("streamer.integrations")
DRAIN_S = 10.0
RELOAD_DRAIN_S = 2.0  # the supervisor waits this long at most; what is left stays pending for the new one


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
    def __init__(
        self,
        config: StreamerConfig,
        redis_url: str,
        names: list[str] | None = None,
        report: HealthListener | None = None,
    ):
        """`report`: where each output's receiver state goes (HealthReporter.take: the health stream)."""
        self.config = config
        self.redis_url = redis_url
        self.report = report
        wanted = names if names is not None else list(config.integrations)
        self.names = [name for name in wanted if config.integrations[name].enabled]
        self.consumers: list[OutputConsumer] = []

    def start(self) -> None:
        """Creates each output's group (so no alert of this run comes before its position), then its thread.
        Raises IntegrationError for an output that cannot start."""
        for name in self.names:
            self._start_one(name)

    def reload(self, config: StreamerConfig, drain_s: float = RELOAD_DRAIN_S) -> None:
        """A reloaded config: outputs added start, removed or switched off ones stop, changed ones restart (an MQTT
        one also when cameras came or went: Home Assistant's device list). Each resumes where its group left
        off, so nothing on the stream is lost; one that cannot start is said on the log and the health stream."""
        wanted = {name for name, settings in config.integrations.items() if settings.enabled}
        running = {consumer.name: consumer for consumer in self.consumers}
        changed = {name for name in running.keys() & wanted if self._differs(name, config)}
        leaving = [running[name] for name in sorted((running.keys() - wanted) | changed)]
        self._stop(leaving, drain_s)
        self.consumers = [consumer for consumer in self.consumers if consumer not in leaving]
        self.config = config
        for name in sorted((wanted - running.keys()) | changed):
            try:
                self._start_one(name)
            except IntegrationError as error:
                log.error(
                    "integration not started after the reload: %s", error, extra={"fields": {"integration": name}}
                )
                if self.report is not None:
                    self.report(HealthChange(f"integration:{name}", "integration", "failed", str(error)))
        self.names = [consumer.name for consumer in self.consumers]
        if leaving or wanted - running.keys():
            log.info("integrations reloaded", extra={"fields": {"running": self.names, "restarted": sorted(changed)}})

    def stop(self, drain_s: float = DRAIN_S) -> None:
        self._stop(self.consumers, drain_s)

    def _differs(self, name: str, config: StreamerConfig) -> bool:
        settings = config.integrations[name]
        if settings != self.config.integrations[name]:
            return True
        return isinstance(settings, MqttIntegration) and config.enabled_cameras() != self.config.enabled_cameras()

    def _start_one(self, name: str) -> None:
        streams = StreamNames(self.config.redis.prefix)
        try:
            output = build_output(name, self.config)
        except ValueError as error:  # says which integration and field
            raise IntegrationError(str(error)) from None
        except OSError as error:  # a TLS file that cannot be read
            raise IntegrationError(f"integrations.{name}: {error}") from None
        consumer = OutputConsumer(
            name,
            output,
            self.config.integrations[name].filter,
            self.redis_url,
            streams,
            self.config.redis.connect_timeout_s,
            self.report,
        )
        try:
            consumer.create_group()
        except redis.RedisError as error:  # the thread waits Redis out; the group is made when it is back
            log.warning("integration group not created yet: %s", error, extra={"fields": {"integration": name}})
        consumer.start()
        self.consumers.append(consumer)
        log.info(
            "integration started",
            extra={"fields": {"integration": name, "kind": output.kind, "redis": redact_url(self.redis_url)}},
        )

    def _stop(self, consumers: list[OutputConsumer], drain_s: float) -> None:
        """First letting each deliver what is already on the stream (up to `drain_s`), then giving up."""
        for consumer in consumers:
            consumer.stopping.set()
        deadline = time.monotonic() + drain_s
        for consumer in consumers:
            if not consumer.join(max(0.0, deadline - time.monotonic())):
                log.warning(
                    "integration did not finish delivering in time; the rest stays pending for the next start",
                    extra={"fields": {"integration": consumer.name}},
                )
            consumer.give_up.set()
        for consumer in consumers:
            consumer.join(5.0)
            try:
                consumer.output.close()
            except Exception as error:  # noqa: BLE001 - a receiver's close must not hide the others'
                log.warning("integration close failed: %s", error, extra={"fields": {"integration": consumer.name}})
            if self.report is not None:
                self.report(HealthChange(f"integration:{consumer.name}", "integration", "stopped", ""))
