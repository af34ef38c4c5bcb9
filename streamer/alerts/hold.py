"""Optional: the messages of chosen event types wait until the VLM has answered (its verdict is stored with the
event's state in Redis) or `hold.timeout_s` has passed; then they go out in order, the `new` already carrying the
verdict. A held event's later messages wait behind its `new`."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

import redis

from streamer.alerts import deliver_script
from streamer.alerts.spool import SpoolRecord

log = logging.getLogger("streamer.vlm")
POLL_S = 0.25


class AlertHold:
    def __init__(
        self,
        types: list[str],
        timeout_s: float,
        client_factory: Callable[[], redis.Redis],
        prefix: str,
        release: Callable[[list[SpoolRecord]], None],
    ):
        self.types = set(types)
        self.timeout_s = timeout_s
        self.prefix = prefix
        self.release = release
        self._client_factory = client_factory
        self._client: redis.Redis | None = None
        self._held: dict[str, tuple[float, list[SpoolRecord]]] = {}  # event id → (deadline, records in order)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vlm-hold", daemon=True)
        self._thread.start()

    def takes(self, event_type: str, event_id: str, is_new: bool) -> bool:
        with self._lock:
            return event_id in self._held or (is_new and event_type in self.types)

    def add(self, event_id: str, record: SpoolRecord) -> None:
        with self._lock:
            deadline, records = self._held.get(event_id, (time.monotonic() + self.timeout_s, []))
            self._held[event_id] = (deadline, [*records, record])

    def close(self) -> None:
        """At the end of a stream the last events' jobs have just been queued: they still get their answer or
        their timeout."""
        deadline = time.monotonic() + self.timeout_s + 2 * POLL_S
        while time.monotonic() < deadline:
            with self._lock:
                if not self._held:
                    break
            time.sleep(POLL_S)
        self._stop.set()
        self._thread.join(5.0)
        with self._lock:
            held, self._held = self._held, {}
        for event_id, (_, records) in held.items():
            log.info("held alert released at stop", extra={"fields": {"event_id": event_id}})
            self.release(records)

    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            with self._lock:
                waiting = list(self._held.items())
            for event_id, (deadline, _) in waiting:
                answered = self._answered(event_id)
                if answered or time.monotonic() >= deadline:
                    with self._lock:
                        _, records = self._held.pop(event_id)
                    log.info(
                        "held alert released",
                        extra={
                            "fields": {
                                "event_id": event_id,
                                "why": "vlm answered" if answered else "timeout",
                                "messages": len(records),
                            }
                        },
                    )
                    self.release(records)

    def _answered(self, event_id: str) -> bool:
        try:
            if self._client is None:
                self._client = self._client_factory()
            raw = self._client.get(deliver_script.event_state_key(self.prefix, event_id))
        except redis.RedisError:
            self._client = None
            return False  # Redis is down: the timeout releases it
        if not raw:
            return False
        state = json.loads(raw)
        return bool(state.get("vlm")) and state.get("verification") in ("confirmed", "rejected", "unverified")
