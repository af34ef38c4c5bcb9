"""Event sink that sends each event's alert message (written by `AlertMessages`): first to the index's copy, then
to the hold (messages that wait for the VLM's verdict) or the spool and Redis."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from streamer.alerts.hold import AlertHold
from streamer.alerts.messages import AlertMessages
from streamer.alerts.payload import AlertPayload
from streamer.alerts.publisher import Publisher
from streamer.alerts.spool import SpoolRecord
from streamer.alerts.streams import StreamNames
from streamer.config.cameras import CameraConfig
from streamer.events.event import Event, EventState
from streamer.frame import TrackedFrame

# every message sent, clip updates and held `new` alerts included (the index keeps each one)
MessageCopy = Callable[[Event, AlertPayload], None]


class AlertOutbox:
    def __init__(
        self,
        name: str,
        messages: AlertMessages,
        publisher: Publisher,
        streams: StreamNames,
        hold: AlertHold | None = None,
        copy: MessageCopy | None = None,
    ):
        self.messages = messages
        self.publisher = publisher
        self.streams = (streams.alerts, streams.camera_alerts(name))
        self.hold = hold
        self.copy = copy

    def on_events(self, events: list[Event], tracked: TrackedFrame | None) -> None:
        records = [record for event in events if (record := self._message(event)) is not None]
        self.publisher.submit(records)

    def reconfigure(self, camera: CameraConfig) -> None:
        self.messages.reconfigure(camera)

    def send_clip(self, ended: Event, clip: str) -> None:
        """From the clipper's thread: the event's clip is written; say so with an `update` of the event."""
        record = self._message(replace(ended, seq=ended.seq + 1, state=EventState.UPDATE), clip)
        if record is not None:
            self.publisher.submit([record])

    def close(self, flush_timeout_s: float = 5.0) -> None:
        if self.hold is not None:
            self.hold.close()
        self.publisher.close(flush_timeout_s)

    def _message(self, event: Event, clip: str | None = None) -> SpoolRecord | None:
        """The event's message, or None when the hold took it."""
        payload = self.messages.payload(event, clip)
        record = SpoolRecord(event.message_id, self.streams, payload.to_json(), event.observed_ts)
        if self.copy is not None:
            self.copy(event, payload)
        if self.hold is not None and self.hold.takes(event.type, event.event_id, event.state is EventState.NEW):
            self.hold.add(event.event_id, record)
            return None
        return record
