"""One shape for every report to the health stream, whoever makes it (the recorder, the index writer, the
uploader, an engine, the site, an integration): the producers emit a `HealthChange` to a `HealthListener`, and
only the health reporter (streamer/alerts/health.py) turns it into a message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class HealthChange:
    subject: str  # a camera, `engine:<device>`, `integration:<name>`, `uploads`
    component: str  # which part of it: recorder, index, engine, site, integration, uploads…
    state: str
    reason: str = ""
    pid: int | None = None


HealthListener = Callable[[HealthChange], None]
