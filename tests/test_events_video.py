"""Known truth on real video with the real models: a person who falls at a known time, one who walks into a
zone and across a line at known times. Events must carry those times (within one detect interval), once each,
and their alert payloads must satisfy the published JSON Schema."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest

from streamer.alerts.payload import alert_from_event, json_schema
from streamer.config.cameras import CameraConfig
from streamer.events.event import Event, EventState
from streamer.events.lifecycle import EventLifecycle
from streamer.events.snapshots import SnapshotWriter
from streamer.frame import TrackedFrame
from streamer.runtime.worker import CameraWorker, WorkerOptions
from testkit.scenes import fall_scene, walk_scene

START = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
T0 = START.timestamp()
FPS = 5.0
INTERVAL = 1 / FPS
SCHEMA = json.loads(json_schema())


class EventRecorder:
    """A worker sink that keeps the events and writes snapshots, as the alert sink does."""

    def __init__(self, name: str, camera: CameraConfig, storage: Path):
        self.lifecycle = EventLifecycle.for_camera(name, camera)
        self.snapshots = SnapshotWriter(storage, camera)
        self.events: list[Event] = []
        self.snapshot_paths: list[str] = []
        self._last: TrackedFrame | None = None

    def __call__(self, tracked: TrackedFrame) -> None:
        self._last = tracked
        for event in self.lifecycle.step(tracked):
            if event.state is EventState.NEW:
                self.snapshot_paths.append(self.snapshots.write(event, tracked))
            self.events.append(event)

    def close(self) -> None:
        self.events += self.lifecycle.close(self._last)


def run_camera(
    clip: Path,
    models_dir: Path,
    storage: Path,
    rules: list[dict],
    zones: dict | None = None,
    extra_models: dict | None = None,
) -> EventRecorder:
    camera = CameraConfig.model_validate(
        {
            "url": str(clip),
            "start_time": START.isoformat(),
            "zones": zones or {},
            "rules": rules,
            "detect": {
                "fps": FPS,
                "model": {"weights": "yolo26n.pt", "classes": ["person"]},
                "extra_models": extra_models or {},
            },
        }
    )
    recorder = EventRecorder("scene", camera, storage)
    code = CameraWorker(
        "scene", camera, WorkerOptions(models_dir=models_dir), threading.Event(), sinks=[recorder]
    ).run()
    assert code == 0
    return recorder


def check_payloads(events: list[Event], snapshot: str) -> None:
    for event in events:
        payload = json.loads(alert_from_event(event, snapshot, "yolo26n.pt").to_json())
        jsonschema.validate(payload, SCHEMA)


@pytest.fixture(scope="module")
def fall_run(tmp_path_factory, bikes_mp4: Path, models_dir: Path) -> EventRecorder:
    folder = tmp_path_factory.mktemp("fall")
    clip = fall_scene(folder / "fall.mp4", bikes_mp4, fall_at=3.1, gone_at=6.5, seconds=8.0)
    rules = [{"type": "fall", "fall_model": "fall", "min_down_s": 1.0, "end_after_s": 1.0}]
    extra = {"fall": {"weights": "yolov8-fall.pt", "confidence": 0.5}}
    return run_camera(clip, models_dir, folder, rules, extra_models=extra)


def test_one_fall_event_starts_when_the_person_began_to_fall(fall_run: EventRecorder) -> None:
    news = [e for e in fall_run.events if e.state is EventState.NEW]
    ends = [e for e in fall_run.events if e.state is EventState.END]
    assert len(news) == 1 and len(ends) == 1, fall_run.events
    new, end = news[0], ends[0]
    assert new.type == "fall" and new.label == "person" and end.event_id == new.event_id
    assert abs(new.start_ts - (T0 + 3.1)) <= INTERVAL  # the truth: tipping began at 3.1 s
    assert abs(end.end_ts - (T0 + 6.5)) <= INTERVAL  # the person left the picture at 6.5 s
    assert new.observed_ts >= new.start_ts + 1.0  # the rule waited min_down_s before it was sure
    assert set(new.signal.split("+")) >= {"geometry", "fall_model"}  # both signals saw it


def test_fall_alerts_match_the_schema_and_the_snapshot_is_a_jpeg(fall_run: EventRecorder, tmp_path: Path) -> None:
    check_payloads(fall_run.events, fall_run.snapshot_paths[0])
    snapshot = fall_run.snapshots.storage_dir / fall_run.snapshot_paths[0]
    assert snapshot.read_bytes()[:3] == b"\xff\xd8\xff"


def test_zone_entry_and_line_crossing_at_their_true_times(tmp_path: Path, bikes_mp4: Path, models_dir: Path) -> None:
    # feet at x = 60 + 80 t: past the line x=320 at 3.25 s, into the zone (x >= 400) at 4.25 s, gone at 6.5 s
    clip = walk_scene(tmp_path / "walk.mp4", bikes_mp4, start_x=60, speed=80, gone_at=6.5, seconds=8.0)
    zones = {"yard": {"polygon": [[400, 200], [640, 200], [640, 345], [400, 345]]}}
    rules = [
        {"type": "zone_intrusion", "zone": "yard", "min_inside_s": 0.5, "end_after_s": 1.0},
        {"type": "line_crossing", "name": "gate-in", "start": [320, 150], "end": [320, 345], "direction": "in"},
        {"type": "line_crossing", "name": "gate-out", "start": [320, 150], "end": [320, 345], "direction": "out"},
    ]
    recorder = run_camera(clip, models_dir, tmp_path, rules, zones=zones)
    by_rule: dict[str, list[Event]] = {}
    for event in recorder.events:
        by_rule.setdefault(event.rule, []).append(event)
    assert "gate-out" not in by_rule  # walking left to right is 'in' only
    crossing = [e for e in by_rule["gate-in"] if e.state is EventState.NEW]
    assert len(crossing) == 1 and abs(crossing[0].start_ts - (T0 + 3.25)) <= INTERVAL
    zone = by_rule["zone_intrusion"]
    assert [e.state for e in zone] == [EventState.NEW, EventState.END]
    assert abs(zone[0].start_ts - (T0 + 4.25)) <= INTERVAL and zone[0].zone == "yard"
    assert abs(zone[1].end_ts - (T0 + 6.5)) <= INTERVAL
    check_payloads(recorder.events, recorder.snapshot_paths[0])
