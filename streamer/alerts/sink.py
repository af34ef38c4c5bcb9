"""The frame sink of a camera worker that turns tracks into alerts: rules → events → snapshot → spool → Redis."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import tzinfo
from pathlib import Path

from streamer.alerts.payload import Verification, alert_from_event, iso_time
from streamer.alerts.publisher import Publisher
from streamer.alerts.spool import SpoolRecord
from streamer.alerts.streams import StreamNames
from streamer.config.cameras import CameraConfig
from streamer.config.vlm import VlmConfig
from streamer.events.event import Event, EventState
from streamer.events.lifecycle import EventLifecycle
from streamer.events.snapshots import SnapshotWriter, snapshot_path
from streamer.frame import TrackedFrame
from streamer.index.rows import EventRecord
from streamer.index.writer import IndexWriter
from streamer.record.event_clips import EventClipper
from streamer.record.recorder import Recorder
from streamer.vlm.hold import AlertHold
from streamer.vlm.sampler import VlmSampler

log = logging.getLogger("streamer.events")


class AlertSink:
    def __init__(self, name: str, camera: CameraConfig, storage_dir: Path, publisher: Publisher, streams: StreamNames,
                 tz: tzinfo | None = None, index: IndexWriter | None = None, recorder: Recorder | None = None,
                 vlm: VlmConfig | None = None, sampler: VlmSampler | None = None, hold: AlertHold | None = None):
        self.name = name
        self.camera = camera
        self.lifecycle = EventLifecycle.for_camera(name, camera)
        self.snapshots = SnapshotWriter(storage_dir, camera)
        self.publisher = publisher
        self.streams = (streams.alerts, streams.camera_alerts(name))
        self.tz = tz
        self.events = 0
        self._last: TrackedFrame | None = None
        self.index = index
        self.recorder = recorder
        self.clipper = EventClipper(storage_dir, recorder, camera.record, self._send_clip) if recorder else None
        self.vlm = vlm
        self.sampler = sampler  # the clip each event sends to the VLM
        self.hold = hold

    def __call__(self, tracked: TrackedFrame) -> None:
        self._last = tracked
        if self.sampler is not None:
            self.sampler.add_frame(tracked)
        events = self.lifecycle.step(tracked)
        if events:
            self._send(events, tracked)

    def close(self, flush_timeout_s: float = 5.0) -> None:
        """End the events still open at the last frame, then give delivery a moment before the process ends."""
        events = self.lifecycle.close(self._last)
        if events:
            self._send(events, self._last)
        if self.sampler is not None:
            self.sampler.close()
        if self.clipper is not None:
            self.clipper.close()  # after the recorder closed its last segment: the clips of the last events
        if self.hold is not None:
            self.hold.close()
        self.publisher.close(flush_timeout_s)

    def _send(self, events: list[Event], tracked: TrackedFrame | None) -> None:
        records = []
        for event in events:
            if event.state is EventState.NEW and tracked is not None:
                snapshot = self.snapshots.write(event, tracked)
            else:
                snapshot = snapshot_path(event)
            payload = alert_from_event(event, snapshot, self._model_label(event), self.tz,
                                       verification=self._verification(event))
            record = self._record(event, payload.to_json())
            if not self._held(event, record):
                records.append(record)
            if self.sampler is not None:
                self.sampler.on_event(event, record.data)
            self._track_window(event)
            self.events += event.state is EventState.NEW
            log.info("event", extra={"fields": {
                "camera": self.name, "type": event.type, "state": event.state.value, "event_id": event.event_id,
                "track": event.track_id, "label": event.label, "signal": event.signal, "start": iso_time(event.start_ts, self.tz),
                "end": iso_time(event.end_ts, self.tz) if event.end_ts is not None else "-"}})
        self.publisher.submit(records)
        if self.clipper is not None:
            for event in events:
                if event.state is EventState.END:
                    self.clipper.submit(event)

    def _record(self, event: Event, payload_json: str) -> SpoolRecord:
        if self.index is not None:
            self.index.add_event(EventRecord(event.event_id, event.seq, event.state.value, event.observed_ts, payload_json))
        return SpoolRecord(event.message_id, self.streams, payload_json, event.observed_ts)

    def _track_window(self, event: Event) -> None:
        """`events` recording mode keeps the segments around events: tell the recorder where they are."""
        if self.recorder is None:
            return
        if event.end_ts is None:
            self.recorder.windows.opened(event.event_id, event.start_ts)
        else:
            self.recorder.windows.closed(event.event_id, event.start_ts, event.end_ts)

    def _send_clip(self, ended: Event, clip: str) -> None:
        """From the clipper's thread: the event's clip is written; say so with an `update` of the event."""
        update = replace(ended, seq=ended.seq + 1, state=EventState.UPDATE)
        payload = alert_from_event(update, snapshot_path(update), self._model_label(update), self.tz, clip=clip,
                                   verification=self._verification(update))
        record = self._record(update, payload.to_json())
        if not self._held(update, record):
            self.publisher.submit([record])

    def _held(self, event: Event, record: SpoolRecord) -> bool:
        """True when the hold took the message: its type waits for the VLM, or its event's `new` is still held."""
        if self.hold is None or not self.hold.takes(event.type, event.event_id, event.state is EventState.NEW):
            return False
        self.hold.add(event.event_id, record)
        return True

    def _verification(self, event: Event) -> Verification:
        """`pending` until the VLM answers (Redis then merges its verdict into every later message)."""
        if self.vlm is not None and self.vlm.verifies(event.type):
            return Verification.PENDING
        return Verification.UNVERIFIED

    def _model_label(self, event: Event) -> str:
        detect = self.camera.detect
        label = detect.model.weights.rsplit("/", 1)[-1]
        if "fall_model" in event.signal:
            for rule in self.camera.rules:
                if rule.rule_name == event.rule and getattr(rule, "fall_model", None):
                    label += "+" + detect.extra_models[rule.fall_model].weights.rsplit("/", 1)[-1]
        return label
