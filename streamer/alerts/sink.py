"""The frame sink of a camera worker that turns tracks into alerts: rules → events → snapshot → spool → Redis."""

from __future__ import annotations

import logging
from datetime import tzinfo
from pathlib import Path

from streamer.alerts.payload import alert_from_event, iso_time
from streamer.alerts.publisher import Publisher
from streamer.alerts.spool import SpoolRecord
from streamer.alerts.streams import StreamNames
from streamer.config.cameras import CameraConfig
from streamer.events.event import Event, EventState
from streamer.events.lifecycle import EventLifecycle
from streamer.events.snapshots import SnapshotWriter, snapshot_path
from streamer.frame import TrackedFrame

log = logging.getLogger("streamer.events")


class AlertSink:
    def __init__(self, name: str, camera: CameraConfig, storage_dir: Path, publisher: Publisher, streams: StreamNames,
                 tz: tzinfo | None = None):
        self.name = name
        self.camera = camera
        self.lifecycle = EventLifecycle.for_camera(name, camera)
        self.snapshots = SnapshotWriter(storage_dir, camera)
        self.publisher = publisher
        self.streams = (streams.alerts, streams.camera_alerts(name))
        self.tz = tz
        self.events = 0
        self._last: TrackedFrame | None = None

    def __call__(self, tracked: TrackedFrame) -> None:
        self._last = tracked
        events = self.lifecycle.step(tracked)
        if events:
            self._send(events, tracked)

    def close(self, flush_timeout_s: float = 5.0) -> None:
        """End the events still open at the last frame, then give delivery a moment before the process ends."""
        events = self.lifecycle.close(self._last)
        if events:
            self._send(events, self._last)
        self.publisher.close(flush_timeout_s)

    def _send(self, events: list[Event], tracked: TrackedFrame | None) -> None:
        records = []
        for event in events:
            if event.state is EventState.NEW and tracked is not None:
                snapshot = self.snapshots.write(event, tracked)
            else:
                snapshot = snapshot_path(event)
            payload = alert_from_event(event, snapshot, self._model_label(event), self.tz)
            records.append(SpoolRecord(event.message_id, self.streams, payload.to_json(), event.observed_ts))
            self.events += event.state is EventState.NEW
            log.info("event", extra={"fields": {
                "camera": self.name, "type": event.type, "state": event.state.value, "event_id": event.event_id,
                "track": event.track_id, "label": event.label, "signal": event.signal, "start": iso_time(event.start_ts, self.tz),
                "end": iso_time(event.end_ts, self.tz) if event.end_ts is not None else "-"}})
        self.publisher.submit(records)

    def _model_label(self, event: Event) -> str:
        detect = self.camera.detect
        label = detect.model.weights.rsplit("/", 1)[-1]
        if "fall_model" in event.signal:
            for rule in self.camera.rules:
                if rule.rule_name == event.rule and getattr(rule, "fall_model", None):
                    label += "+" + detect.extra_models[rule.fall_model].weights.rsplit("/", 1)[-1]
        return label
