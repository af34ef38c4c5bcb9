"""Event sink that turns events into alert messages and sends them: the payload (snapshot, model, verdict
state), then the taps that keep a copy (the index, the VLM sampler), then the hold (messages that wait for the
VLM's verdict) or the spool and Redis."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import tzinfo

from streamer.alerts.hold import AlertHold
from streamer.alerts.payload import Verification, alert_from_event
from streamer.alerts.publisher import Publisher
from streamer.alerts.spool import SpoolRecord
from streamer.alerts.streams import StreamNames
from streamer.config.cameras import CameraConfig
from streamer.config.vlm import VlmConfig
from streamer.events.event import Event, EventState
from streamer.events.snapshots import snapshot_path
from streamer.frame import TrackedFrame

MessageTap = Callable[[Event, SpoolRecord], None]


class AlertOutbox:
    def __init__(
        self,
        name: str,
        camera: CameraConfig,
        publisher: Publisher,
        streams: StreamNames,
        tz: tzinfo | None = None,
        vlm: VlmConfig | None = None,
        hold: AlertHold | None = None,
        taps: Sequence[MessageTap] = (),
    ):
        self.camera = camera
        self.publisher = publisher
        self.streams = (streams.alerts, streams.camera_alerts(name))
        self.tz = tz
        self.vlm = vlm
        self.hold = hold
        self.taps = list(taps)

    def on_events(self, events: list[Event], tracked: TrackedFrame | None) -> None:
        records = [record for event in events if (record := self._message(event)) is not None]
        self.publisher.submit(records)

    def reconfigure(self, camera: CameraConfig) -> None:
        """A reload changed the rules: the model each names follows."""
        self.camera = camera

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
        payload = alert_from_event(
            event,
            snapshot_path(event),
            self._model_label(event),
            self.tz,
            clip=clip,
            verification=self._verification(event),
        )
        record = SpoolRecord(event.message_id, self.streams, payload.to_json(), event.observed_ts)
        for tap in self.taps:
            tap(event, record)
        if self.hold is not None and self.hold.takes(event.type, event.event_id, event.state is EventState.NEW):
            self.hold.add(event.event_id, record)
            return None
        return record

    def _verification(self, event: Event) -> Verification:
        """`pending` until the VLM answers (Redis then merges its verdict into every later message)."""
        if self.vlm is not None and self.vlm.verifies(event.type):
            return Verification.PENDING
        return Verification.UNVERIFIED

    def _model_label(self, event: Event) -> str:
        detect = self.camera.detect
        label = detect.model.weights.rsplit("/", 1)[-1]
        for rule in self.camera.rules:
            if rule.rule_name == event.rule:
                for model in rule.models_behind(event.signal):
                    label += "+" + detect.extra_models[model].weights.rsplit("/", 1)[-1]
        return label
