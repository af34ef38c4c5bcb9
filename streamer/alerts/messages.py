"""The alert message an event makes, written in one place: the outbox sends it, the index keeps it, and the VLM
sampler hands it to the job whose verdict will be merged into it, so all three hold the same message."""

from __future__ import annotations

import json
from datetime import tzinfo

from streamer.alerts.payload import AlertPayload, Verification, alert_from_event
from streamer.config.cameras import CameraConfig
from streamer.config.vlm import VlmConfig
from streamer.events.event import Event
from streamer.events.snapshots import snapshot_path
from streamer.index import store
from streamer.index.rows import EventRecord


class AlertMessages:
    def __init__(self, camera: CameraConfig, tz: tzinfo | None = None, vlm: VlmConfig | None = None):
        self.camera = camera
        self.tz = tz
        self.vlm = vlm

    def payload(self, event: Event, clip: str | None = None) -> AlertPayload:
        return alert_from_event(
            event,
            snapshot_path(event),
            self._model_label(event),
            self.tz,
            clip=clip,
            verification=self._verification(event),
        )

    def reconfigure(self, camera: CameraConfig) -> None:
        """A reload changed the rules: the model each names follows."""
        self.camera = camera

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


def index_record(payload: AlertPayload, seq: int, observed_ts: float) -> EventRecord:
    """The message as the index stores it: the columns it searches, and the message whole."""
    return EventRecord(
        event_id=payload.event_id,
        seq=seq,
        state=payload.state,
        observed_ts=observed_ts,
        camera=payload.camera,
        type=payload.type,
        rule=payload.source.rule,
        label=payload.label,
        track_id=payload.track_id,
        start_ts=payload.start_ts,
        end_ts=payload.end_ts,
        confidence=payload.confidence,
        bbox_xyxy=payload.bbox_xyxy,
        frame_wh=payload.frame_wh,
        verification=payload.verification,
        risk_level=payload.risk_level,
        description=payload.description,
        snapshot=payload.snapshot,
        clip=payload.clip,
        source_json=json.dumps(payload.source.model_dump(mode="json")),
        payload_json=payload.to_json(),
    )


def stored_alert(conn, event_id: str) -> AlertPayload | None:
    """The event's latest message as the index keeps it, read back as the contract (only messages that passed it
    are stored); None when the index has no such event."""
    stored = store.latest_payload(conn, event_id)
    return None if stored is None else AlertPayload.model_validate(stored)
