"""The event stage of a camera: tracked frames → the rules' lifecycle → events, handed to small sinks that each do
one thing with them (the snapshot, the alert message, the recorder's windows, the clip). Wired per camera in
`streamer.runtime.process`; frames flow one way through it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import tzinfo

from streamer.config.cameras import CameraConfig
from streamer.core.timefmt import iso_time
from streamer.events.event import Event
from streamer.events.lifecycle import EventLifecycle
from streamer.events.sinks import EventSink, FrameTap, Reconfigurable, SinkGuard
from streamer.frame import TrackedFrame

log = logging.getLogger("streamer.events")


class EventStage:
    """A worker's frame sink. Sinks get each batch of events in the order given and close in reverse: so a sink may
    rely on the ones before it (the snapshot exists when the alert names it), and what closes last (the alert
    outbox) still takes what the others send while closing (clip updates, held alerts). A sink that is also a frame
    tap sees each frame before the rules do. Every call goes through the camera's guard
    (streamer/events/sinks.py): a sink that raises does not stop the others."""

    def __init__(
        self,
        camera: str,
        lifecycle: EventLifecycle,
        sinks: Sequence[EventSink],
        tz: tzinfo | None = None,
        guard: SinkGuard | None = None,
    ):
        self.camera = camera
        self.guard = guard or SinkGuard(camera)
        self.lifecycle = lifecycle
        self.sinks = list(sinks)
        self.taps = [sink for sink in self.sinks if isinstance(sink, FrameTap)]
        self.tz = tz
        self._last: TrackedFrame | None = None
        self.stop_reason: str | None = None  # why the stream ends, when it is stopped rather than played out

    def __call__(self, tracked: TrackedFrame) -> None:
        self._last = tracked
        for tap in self.taps:
            self.guard.call(tap, tap.add_frame, tracked)
        events = self.lifecycle.step(tracked)
        if events:
            self._dispatch(events, tracked)

    def reconfigure(self, camera: CameraConfig) -> None:
        """A reload changed the camera's rules or zones: the changed rules' open events end, then the sinks that
        draw or name them follow."""
        events = self.lifecycle.reconfigure(camera, self._last)
        if events:
            self._dispatch(events, self._last)
        for sink in self.sinks:
            if isinstance(sink, Reconfigurable):
                self.guard.call(sink, sink.reconfigure, camera)

    def note_stop(self, reason: str) -> None:
        self.stop_reason = reason

    def close(self) -> None:
        """End the events still open at the last frame seen, then close the sinks."""
        events = self.lifecycle.close(self._last, self.stop_reason)
        if events:
            self._dispatch(events, self._last)
        for sink in reversed(self.sinks):
            self.guard.call(sink, sink.close)

    def _dispatch(self, events: list[Event], tracked: TrackedFrame | None) -> None:
        for event in events:
            log.info(
                "event",
                extra={
                    "fields": {
                        "camera": self.camera,
                        "type": event.type,
                        "state": event.state.value,
                        "event_id": event.event_id,
                        "track": event.track_id,
                        "label": event.label,
                        "signal": event.signal,
                        "start": iso_time(event.start_ts, self.tz),
                        "end": iso_time(event.end_ts, self.tz) if event.end_ts is not None else "-",
                        **({"end_reason": event.end_reason} if event.end_reason else {}),
                    }
                },
            )
        for sink in self.sinks:
            self.guard.call(sink, sink.on_events, events, tracked)
