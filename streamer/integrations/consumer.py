"""One output's consumer: its own group on the alert stream (`integration:<name>`), one thread, in stream order.
An alert is acknowledged only once it is delivered, deliberately skipped, or on the dead-letter stream; a Redis
outage is waited out and the group's position kept, and entries read but not acknowledged before a crash are
read again at the next start (at least once)."""

from __future__ import annotations

import logging
import threading
import time

import redis

from streamer import metrics
from streamer.alerts.reading import NotAnAlert, read_alert
from streamer.alerts.redis_access import connect
from streamer.alerts.streams import StreamNames
from streamer.alerts.tail import Entry, GroupTail
from streamer.config.integrations import AlertFilter
from streamer.core.backoff import Backoff
from streamer.core.health import HealthChange, HealthListener
from streamer.integrations.delivery import Abandoned, Alert, DeadLetter, Output
from streamer.integrations.filtering import passes

log = logging.getLogger("streamer.integrations")
DEAD_MAXLEN = 10_000
BLOCK_MS = 500


class OutputConsumer:
    def __init__(
        self,
        name: str,
        output: Output,
        rule: AlertFilter,
        redis_url: str,
        streams: StreamNames,
        timeout_s: float = 3.0,
        report: HealthListener | None = None,
    ):
        self.name = name
        self.output = output
        self.rule = rule
        self.report = report
        self.link_state = ""  # the receiver's last reported state: up | down ("" before the first)
        output.on_link = self._link
        self.streams = streams
        self.group = f"integration:{name}"
        self._client_factory = lambda: connect(redis_url, timeout_s)
        self.stopping = threading.Event()  # finish what is on the stream, then return
        self.give_up = threading.Event()  # the drain time is over: return now, leaving the rest pending
        self.delivered = 0
        self._thread = threading.Thread(target=self._run, name=f"integration-{name}", daemon=True)

    def create_group(self) -> None:
        """Before the cameras start, so no alert of this run comes before the group's position; a group that exists
        keeps its own (what it has not acknowledged is delivered after a restart). Raises RedisError."""
        self._tail(self._client_factory())

    def start(self) -> None:
        self.output.start()
        self._thread.start()

    def _link(self, state: str, reason: str) -> None:
        """The receiver's changes (never each retry): logged, on the health stream, and as streamer_integration_up."""
        if state == self.link_state:
            return
        self.link_state = state
        kind = self.output.kind
        metrics.INTEGRATION_UP.labels(self.name, kind).set(1.0 if state == "up" else 0.0)
        extra = {"fields": {"integration": self.name, "kind": kind}}
        if state == "up":
            log.info("integration receiver up: %s", reason or "delivering", extra=extra)
        else:
            log.warning("integration receiver down: %s; alerts wait in its group", reason, extra=extra)
        if self.report is not None:
            self.report(HealthChange(f"integration:{self.name}", "integration", state, reason))

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _tail(self, client: redis.Redis) -> GroupTail:
        return GroupTail(
            client,
            self.streams.alerts,
            self.group,
            self.name,
            from_start=False,
            claim_idle_s=60.0,
            block_ms=BLOCK_MS,
            until=self.stopping.is_set,
        )

    def _run(self) -> None:
        backoff = Backoff(0.2, 5.0)
        while not self.give_up.is_set():
            client = None
            try:
                client = self._client_factory()
                tail = self._tail(client)
                for entry in tail.entries():
                    self._handle(entry, client)
                    tail.done(entry)
                    backoff.reset()
                return  # stopping, and nothing more on the stream
            except Abandoned:
                return
            except redis.RedisError as error:
                level = logging.DEBUG if backoff.attempt else logging.WARNING  # once an outage, not every retry
                log.log(level, "integration waits for redis: %s", error, extra={"fields": {"integration": self.name}})
                self.give_up.wait(backoff.next_delay())
            except Exception:  # a bug must not end delivery for good: the group keeps the alert pending
                log.exception("integration failed unexpectedly; retrying", extra={"fields": {"integration": self.name}})
                self.give_up.wait(backoff.next_delay())
            finally:
                if client is not None:
                    client.close()

    def _handle(self, entry: Entry, client: redis.Redis) -> None:
        kind = self.output.kind
        try:
            read = read_alert(entry.data)  # the contract, once, here: the outputs read its fields
        except NotAnAlert as problem:  # set aside, never retried for ever
            self._bury(client, entry, DeadLetter(f"not an alert: {problem}", 0))
            return
        event = read.alert
        if not passes(event, self.rule):
            metrics.INTEGRATION_SKIPPED.labels(self.name, kind).inc()
            return
        alert = Alert(event, read.message, entry.stream_id, int(entry.stream_id.split("-")[0]) / 1000)
        try:
            delivered = self.output.deliver(alert, self.give_up)
        except DeadLetter as dead:
            self._bury(client, entry, dead)
            return
        except Abandoned:
            raise
        except (ValueError, TypeError, AttributeError, KeyError) as error:  # the alert is malformed: said, no traceback
            self._bury(client, entry, DeadLetter(f"cannot be delivered: {type(error).__name__}: {error}", 1))
            return
        except Exception as error:  # the outputs retry what a receiver does: this is a bug, with its traceback
            log.exception("integration cannot deliver this alert", extra={"fields": {"integration": self.name}})
            self._bury(client, entry, DeadLetter(f"{type(error).__name__}: {error}", 1))
            return
        if not delivered:
            metrics.INTEGRATION_SKIPPED.labels(self.name, kind).inc()
            return
        self.delivered += 1
        metrics.INTEGRATION_DELIVERED.labels(self.name, kind).inc()
        metrics.INTEGRATION_LATENCY.labels(self.name, kind).observe(max(0.0, time.time() - alert.added_ts))

    def _bury(self, client: redis.Redis, entry: Entry, dead: DeadLetter) -> None:
        """On `<prefix>:integrations:dead` with the error, so nothing is dropped without a trace."""
        client.xadd(
            self.streams.integrations_dead,
            {
                "data": entry.data,
                "integration": self.name,
                "kind": self.output.kind,
                "entry": entry.stream_id,
                "error": dead.error[:2000],
                "attempts": dead.attempts,
                "ts": time.time(),
            },
            maxlen=DEAD_MAXLEN,
            approximate=True,
        )
        metrics.INTEGRATION_DEAD.labels(self.name, self.output.kind).inc()
        log.error(
            "integration gave up on an alert; it is on the dead-letter stream",
            extra={
                "fields": {
                    "integration": self.name,
                    "entry": entry.stream_id,
                    "attempts": dead.attempts,
                    "error": dead.error[:300],
                }
            },
        )
