"""The live path's sinks, one contract. Two kinds:

- a **frame sink** sees every tracked frame (`sink(tracked)`): the annotated video, the track summary, the live
  view and video, the event stage itself;
- an **event sink** sees each batch of events with the frame they were seen on (`sink.on_events(events,
  tracked)`): the snapshot, the alert outbox, the recorder's windows, the event clips, the VLM sampler. An event
  sink that is also a frame tap (`add_frame`) sees every frame before the rules do (the VLM sampler keeps a
  window of them to cut each event's clip from).

Either kind may also take a reloaded camera config in place (`Reconfigurable`) or be told why the stream ends
(`StopNoted`), and closes with `close()`.

Every call to a sink goes through the camera's `SinkGuard`: a sink that raises is logged (the first failure with
its traceback, then one line a minute with the count), counted (`streamer_sink_errors_total`), and the other sinks
and the camera go on: one bad sink cannot stop a camera, whose alerts and recording still run.

The close order, stated here once: the recorder first (the event clips wait for its last segment), then the frame
sinks in the order they were given (the annotated video, then runtime/process.py's: the track summary, the live
view, the live video, the event stage, the index writer last). The event stage ends the events still open, then
closes its event sinks in reverse: the VLM sampler (which sends the clips still waiting for frames), the event
clips, the recorder's windows, then the alert outbox, which still takes what those send while closing (clip updates,
held alerts), and the snapshot writer."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from streamer import metrics
from streamer.config.cameras import CameraConfig
from streamer.events.event import Event
from streamer.frame import TrackedFrame

log = logging.getLogger("streamer.sinks")
REPEAT_LOG_S = 60.0


class FrameSink(Protocol):
    def __call__(self, tracked: TrackedFrame) -> None: ...

    def close(self) -> None:
        """The stream is over (played, stopped or failed): finish what is open."""
        ...


class EventSink(Protocol):
    def on_events(self, events: list[Event], tracked: TrackedFrame | None) -> None:
        """`tracked` is the frame the events were seen on (None for events ended after the last frame)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class FrameTap(Protocol):
    """An event sink that also sees every tracked frame, before the rules do (the VLM sampler keeps a window of
    them); it is closed as the event sink it is."""

    def add_frame(self, tracked: TrackedFrame) -> None: ...


@runtime_checkable
class Reconfigurable(Protocol):
    """A part that takes a reloaded camera config in place (its zones, lines, rules, motion masks)."""

    def reconfigure(self, camera: CameraConfig) -> None: ...


@runtime_checkable
class StopNoted(Protocol):
    """A part that says why the stream ends when the camera is stopped (the events it ends carry the reason)."""

    def note_stop(self, reason: str) -> None: ...


class SinkGuard:
    """Each call to a sink on its own: one that raises is logged and counted, and the caller goes on."""

    def __init__(self, camera: str):
        self.camera = camera
        self.failures: dict[str, int] = {}
        self._logged_at: dict[str, float] = {}

    def call(self, sink: object, method: Callable, *args) -> bool:
        """`method(*args)`; False when it raised."""
        try:
            method(*args)
        except Exception as error:  # a sink's bug must not stop the camera: the others still run
            self._failed(type(sink).__name__, getattr(method, "__name__", "call"), error)
            return False
        return True

    def _failed(self, sink: str, method: str, error: Exception) -> None:
        count = self.failures[sink] = self.failures.get(sink, 0) + 1
        metrics.SINK_ERRORS.labels(self.camera, sink).inc()
        now = time.monotonic()
        fields = {"camera": self.camera, "sink": sink, "call": method, "failures": count}
        if count == 1:
            log.exception("a sink failed; the camera goes on without it for this call", extra={"fields": fields})
        elif now - self._logged_at.get(sink, 0.0) >= REPEAT_LOG_S:
            log.error("a sink is still failing: %s: %s", type(error).__name__, error, extra={"fields": fields})
        else:
            return
        self._logged_at[sink] = now
