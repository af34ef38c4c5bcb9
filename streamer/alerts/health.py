"""Worker and camera state changes on `<prefix>:health`, spooled like alerts so an outage hides none of them."""

from __future__ import annotations

import os
import time
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from streamer.alerts.liveness import LinkChange
from streamer.alerts.publisher import Publisher
from streamer.alerts.spool import SpoolRecord
from streamer.alerts.streams import StreamNames
from streamer.core.health import HealthChange
from streamer.core.timefmt import iso_time


class HealthPayload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    ts: float = Field(gt=0)
    iso: str
    camera: str
    component: Literal[
        "worker",
        "source",
        "service",
        "recorder",
        "engine",
        "redis",
        "integration",
        "site",
        "index",
        "uploads",
        "config",
    ]
    state: str = Field(
        description="worker: started|finished|stopped|crashed|failed; source: connecting|streaming|reconnecting|"
        "stopped|failed; recorder: waiting|recording|paused|stopped|failed; engine (camera is "
        "'engine:<device>'): started|crashed; redis (camera is who saw it: 'service' or 'vlm:<consumer>'): down|up; "
        "integration (camera is 'integration:<name>'): up|down (its receiver), stopped; site (camera "
        "is a camera, or 'site'): acquired|handed_over|lease_lost for a camera, down|up for the site's Redis; "
        "index (camera is a camera): unreachable|reachable (a shared index's database); uploads (camera "
        "is 'uploads'): backlogged|caught_up (the object store); config (camera is 'config'): reloaded|refused "
        "(the reason says what changed, or the file's errors)"
    )
    reason: str = ""
    pid: int | None = None
    down_s: float | None = Field(None, ge=0, description="redis up: how long the outage lasted (to one heartbeat).")
    since_ts: float | None = Field(None, description="redis up: when the outage started (unix seconds).")
    host_pid: int = Field(default_factory=os.getpid, description="The supervisor's pid.")
    node: str | None = Field(None, description="The host that said it, on a site of many hosts.")


def link_payload(change: LinkChange, seen_by: str) -> HealthPayload:
    return HealthPayload(
        ts=change.ts,
        iso=iso_time(change.ts),
        camera=seen_by,
        component="redis",
        state=change.state.value,
        reason=change.reason,
        down_s=change.down_s,
        since_ts=change.since_ts,
    )


class HealthReporter:
    def __init__(self, publisher: Publisher, streams: StreamNames, watch_redis: bool = False, node: str | None = None):
        """`watch_redis`: also report this publisher's Redis outages (one process should, not every worker)."""
        self.publisher = publisher
        self.node = node
        self.stream = streams.health
        if watch_redis:
            publisher.liveness.on_change = self.report_link

    def take(self, change: HealthChange) -> None:
        """A producer's report (streamer/core/health.py)."""
        self.report(change.subject, change.component, change.state, change.reason, change.pid)

    def report(self, camera: str, component: str, state: str, reason: str = "", pid: int | None = None) -> None:
        now = time.time()
        self._submit(
            HealthPayload(
                ts=now, iso=iso_time(now), camera=camera, component=component, state=state, reason=reason, pid=pid
            )
        )

    def report_link(self, change: LinkChange) -> None:
        """Spooled like the rest: the `down` entry reaches the stream once Redis is back, stamped when it began."""
        self._submit(link_payload(change, "service"))

    def _submit(self, payload: HealthPayload) -> None:
        if self.node is not None:
            payload = payload.model_copy(update={"node": self.node})
        self.publisher.submit([SpoolRecord(uuid.uuid4().hex, (self.stream,), payload.model_dump_json())])

    def close(self, flush_timeout_s: float = 3.0) -> None:
        self.publisher.close(flush_timeout_s)
