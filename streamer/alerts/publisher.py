"""Delivery from the spool to Redis streams, on a thread of its own, so the live path never waits on Redis.

Each message goes out through one Lua script (`deliver_script`) that sets its dedupe key (SET NX) and, only if
the key was new, merges it with the event's state and XADDs it to every stream it belongs to. The script runs
atomically, so a message re-sent after a timeout or a crash is dropped by Redis itself: exactly once per
message id, in spool order.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

import redis
from redis.exceptions import AuthenticationError, AuthorizationError

from streamer import metrics
from streamer.alerts import deliver_script
from streamer.alerts.liveness import RedisLiveness
from streamer.alerts.redis_access import connect
from streamer.alerts.spool import Spool, SpoolRecord
from streamer.core.backoff import Backoff
from streamer.redact import redact_url

log = logging.getLogger("streamer.alerts")

BATCH = 200


class Publisher:
    def __init__(
        self,
        name: str,
        spool: Spool,
        url: str,
        prefix: str,
        maxlen: int,
        dedupe_ttl_s: int,
        timeout_s: float = 3.0,
        client_factory: Callable[[], redis.Redis] | None = None,
        heartbeat_s: float = 1.0,
        fence: tuple[str, str] | None = None,
    ):
        self.name = name
        self.spool = spool
        self.safe_url = redact_url(url)
        self.prefix = prefix
        self.maxlen = maxlen
        self.dedupe_ttl_s = dedupe_ttl_s
        self._client_factory = client_factory or (lambda: connect(url, timeout_s))
        self._client: redis.Redis | None = None
        self._script = None
        self._wake = threading.Event()  # set by every submit: new work
        self._stop_wake = threading.Event()  # set by close only: a retry wait during an outage ends for nothing else
        self._stopping = False
        self._flush_deadline = 0.0
        # a reconnect attempt is cheap, and neither alerts nor the outage's reported end should wait long after one
        self._backoff = Backoff(0.1, heartbeat_s)
        self.liveness = RedisLiveness(name, heartbeat_s)  # HealthReporter(watch_redis=True) listens to it
        self.fence = fence  # (lease key, value): a camera's writer on a site of many hosts (deliver_script.py)
        self.delivered = 0
        self.duplicates = 0
        self.fenced = 0
        self._thread = threading.Thread(target=self._run, name=f"publish-{name}", daemon=True)

    def start(self) -> "Publisher":
        self._thread.start()
        return self

    def submit(self, records: list[SpoolRecord]) -> None:
        """Durable on return (spooled and fsynced); delivered as soon as Redis takes it."""
        self.spool.append(records)
        self._wake.set()

    def close(self, flush_timeout_s: float = 5.0) -> int:
        """Try to deliver what is spooled for up to `flush_timeout_s`; the rest waits in the spool for the next start.
        Returns the bytes left undelivered."""
        self._flush_deadline = time.monotonic() + flush_timeout_s
        self._stopping = True
        self._wake.set()
        self._stop_wake.set()
        self._thread.join(flush_timeout_s + 5.0)
        left = self.spool.backlog_bytes()
        if left:
            log.warning(
                "redis unreachable at stop; messages stay spooled for the next start",
                extra={"fields": {"publisher": self.name, "spool": str(self.spool.path), "bytes": left}},
            )
        if self._client is not None and not self._thread.is_alive():
            self._client.close()
        self.spool.close()
        return left

    # -- delivery thread ---------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            if self._stopping and time.monotonic() >= self._flush_deadline:
                return
            batch = self.spool.pending(BATCH)
            if not batch and self._stopping:
                return
            try:
                if batch:
                    self._deliver(batch)
                elif self.liveness.check_due():
                    self._heartbeat()
                else:
                    self._wake.wait(self.liveness.heartbeat_s)
                    self._wake.clear()
            except redis.RedisError as error:
                self._on_failure(error, len(batch))
                self._retry_wait()
            except Exception:  # a bug here must not stop delivery for good: the spool keeps the messages
                log.exception("delivery failed unexpectedly; retrying", extra={"fields": {"publisher": self.name}})
                self._retry_wait()

    def _deliver(self, batch: list[tuple[SpoolRecord, int]]) -> None:
        client = self._connected()
        pipe = client.pipeline(transaction=False)
        for record, _ in batch:
            keys, args = deliver_script.script_call(
                self.prefix, record.id, record.streams, record.data, self.maxlen, self.dedupe_ttl_s, fence=self.fence
            )
            self._script(keys=keys, args=args, client=pipe)
        results = pipe.execute(raise_on_error=False)
        now = time.time()
        for (record, _), result in zip(batch, results):
            if isinstance(result, Exception) and _transient(result):
                raise result
            if isinstance(result, Exception):
                self.spool.reject(record, str(result))
            elif result is None or result is False:
                self.duplicates += 1
                log.debug("already delivered; dropped", extra={"fields": {"id": record.id}})
            elif result == b"fenced":  # another host holds the camera's lease now: it speaks for the camera
                self.fenced += 1
                log.warning(
                    "not published: this host no longer holds the camera's lease",
                    extra={"fields": {"id": record.id, "publisher": self.name}},
                )
            else:
                self.delivered += 1
                self._log_published(record, result, now)
                self._count(record, now)
        self.spool.mark_delivered(batch[-1][1])
        self._on_success()

    def _heartbeat(self) -> None:
        """While idle, so an outage is seen when it starts rather than at the next alert."""
        self._connected().ping()
        self._on_success()

    def _connected(self) -> redis.Redis:
        if self._client is None:
            client = self._client_factory()
            client.ping()
            self._client, self._script = client, client.register_script(deliver_script.SCRIPT)
        return self._client

    def _log_published(self, record: SpoolRecord, entry_id: bytes, now: float) -> None:
        """Alerts are logged (they are few and each matters); health messages only at debug level."""
        fields: dict[str, object] = {"id": record.id, "stream": record.streams[0], "entry": entry_id.decode()}
        if record.observed_ts is None:
            log.debug("published", extra={"fields": fields})
            return
        # now minus the frame's wall clock: the alert latency for a live camera; for a recording, its age
        fields["age_ms"] = round((now - record.observed_ts) * 1000, 1)
        log.info("published", extra={"fields": fields})

    def _count(self, record: SpoolRecord, now: float) -> None:
        """Alerts by camera, type and state, as Redis accepted them (a dropped duplicate is not counted)."""
        if record.streams[0] != f"{self.prefix}:alerts":
            return
        try:
            alert = json.loads(record.data)
            camera, kind, state = alert["camera"], alert["type"], alert["state"]
        except (ValueError, KeyError, TypeError):
            return
        metrics.count_alert(camera, kind, state)
        if record.observed_ts is not None:
            metrics.ALERT_DELAY.labels(camera).observe(max(0.0, now - record.observed_ts))

    def _on_failure(self, error: redis.RedisError, pending: int) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None
        why = (
            "authentication failed (check the user and password in redis.url)"
            if _auth_problem(error)
            else "unreachable"
        )
        self.liveness.failed(
            f"{why}: {error}; spooling to {self.spool.path} ({self.spool.backlog_bytes()} bytes, "
            f"{pending} waiting in this batch) at {self.safe_url}"
        )

    def _on_success(self) -> None:
        self.liveness.succeeded()
        self._backoff.reset()

    def _retry_wait(self) -> None:
        """The backoff after a failure. New alerts do not cut it short (they are spooled; before, each one woke a
        reconnect, and 10,000 alerts in an outage made 10,000 attempts); only a stop does."""
        seconds = self._backoff.next_delay()
        if self._stopping:
            seconds = min(seconds, max(0.0, self._flush_deadline - time.monotonic()))
        self._stop_wake.wait(seconds)


_TRANSIENT_REPLIES = ("NOAUTH", "WRONGPASS", "NOPERM", "LOADING", "READONLY", "OOM", "BUSY", "MASTERDOWN", "TRYAGAIN")


def _transient(error: Exception) -> bool:
    """Worth retrying the whole batch later, as opposed to a message Redis will never take."""
    if isinstance(error, (redis.ConnectionError, redis.TimeoutError)):
        return True
    return str(error).upper().startswith(_TRANSIENT_REPLIES)


def _auth_problem(error: Exception) -> bool:
    if isinstance(error, (AuthenticationError, AuthorizationError)):
        return True
    return str(error).upper().startswith(("NOAUTH", "WRONGPASS", "NOPERM"))
