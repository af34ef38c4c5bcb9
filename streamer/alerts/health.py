"""Worker and camera state changes on `<prefix>:health`, spooled like alerts so an outage hides none of them."""

from __future__ import annotations

import os
import time
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from streamer.alerts.payload import iso_time
from streamer.alerts.publisher import Publisher
from streamer.alerts.spool import SpoolRecord
from streamer.alerts.streams import StreamNames


class HealthPayload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    ts: float = Field(gt=0)
    iso: str
    camera: str
    component: Literal["worker", "source", "service", "recorder", "engine"]
    state: str = Field(description="worker: started|finished|crashed|failed; source: connecting|streaming|reconnecting|"
                       "stopped|failed; recorder: waiting|recording|paused|stopped|failed; engine (camera is "
                       "'engine:<device>'): started|crashed")
    reason: str = ""
    pid: int | None = None
    host_pid: int = Field(default_factory=os.getpid, description="The supervisor's pid.")


class HealthReporter:
    def __init__(self, publisher: Publisher, streams: StreamNames):
        self.publisher = publisher
        self.stream = streams.health

    def report(self, camera: str, component: str, state: str, reason: str = "", pid: int | None = None) -> None:
        now = time.time()
        payload = HealthPayload(ts=now, iso=iso_time(now), camera=camera, component=component, state=state,
                                reason=reason, pid=pid)
        self.publisher.submit([SpoolRecord(uuid.uuid4().hex, (self.stream,), payload.model_dump_json())])

    def close(self, flush_timeout_s: float = 3.0) -> None:
        self.publisher.close(flush_timeout_s)
