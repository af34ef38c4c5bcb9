"""Event sink for `events` recording mode: tells the recorder where the events are, so it keeps the segments
around them (pre-roll to post-roll) and deletes the rest."""

from __future__ import annotations

from streamer.events.event import Event
from streamer.frame import TrackedFrame
from streamer.record.recorder import Recorder


class RecorderWindows:
    def __init__(self, recorder: Recorder):
        self.recorder = recorder

    def on_events(self, events: list[Event], tracked: TrackedFrame | None) -> None:
        windows = self.recorder.windows
        for event in events:
            if event.end_ts is None:
                windows.opened(event.event_id, event.start_ts)
            else:
                windows.closed(event.event_id, event.start_ts, event.end_ts)

    def close(self) -> None:
        pass  # the recorder is closed by the worker, before the sinks
