"""Motion-gated detection on real video with the real models: the same events with the gate as without it on the
suite's clips with known truth, while a quiet camera's detector skips most frames; a cloud, sensor noise and an
infrared switch raise nothing; a still object is found; masks, a resolution change and a busy scene."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path

import av
import numpy as np
import pytest

from streamer.config.cameras import CameraConfig
from streamer.config.motion import MotionConfig
from streamer.detect.motion import MotionDetector, MotionVerdict
from streamer.events.event import EventState
from streamer.runtime.gate import GateMode, MotionGate
from streamer.runtime.worker import CameraWorker, WorkerOptions
from testkit.quiet import HEIGHT, WIDTH, QuietTruth, quiet_scene
from testkit.scenes import fall_scene, walk_scene
from testkit.walkers import walkers_clip
from tests.test_config import errors_of
from tests.test_events_video import EventRecorder

START = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
T0 = START.timestamp()
TRUTH = QuietTruth()


def _sampled(clip: Path, fps: float = 5.0) -> list[tuple[float, np.ndarray]]:
    frames, next_t = [], 0.0
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            t = float(frame.pts * stream.time_base)
            if t + 1e-6 >= next_t:
                frames.append((t, frame.to_ndarray(format="bgr24")))
                next_t += 1 / fps
    return frames


@pytest.fixture(scope="module")
def clips(tmp_path_factory, bikes_mp4: Path) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("gate-clips")
    return {
        "quiet": quiet_scene(folder, bikes_mp4),
        "walk": walk_scene(folder / "walk.mp4", bikes_mp4, start_x=60, speed=80, gone_at=6.5, seconds=8.0),
        "fall": fall_scene(folder / "fall.mp4", bikes_mp4, fall_at=3.1, gone_at=6.5, seconds=8.0),
        "walkers": walkers_clip(folder, bikes_mp4, seconds=12.0),
    }


def test_a_cloud_and_noise_are_no_motion_a_person_is_and_the_infrared_switch_settles(clips) -> None:
    detector = MotionDetector(MotionConfig())
    verdicts = [(t, detector.check(image).verdict) for t, image in _sampled(clips["quiet"])]
    cloud = [v for t, v in verdicts if TRUTH.cloud[0] <= t <= TRUTH.cloud[1] + 1]
    assert cloud and set(cloud) == {MotionVerdict.STILL}  # the whole picture dims to 55 % and back: nothing moves
    walking = [v for t, v in verdicts if TRUTH.walk[0] + 0.3 <= t <= TRUTH.leaves_frame_at - 0.3]
    assert walking.count(MotionVerdict.MOTION) == len(walking)
    before = [v for t, v in verdicts if 1.0 <= t < TRUTH.walk[0]]
    assert set(before) == {MotionVerdict.STILL}
    after_switch = [v for t, v in verdicts if t >= TRUTH.infrared_at + 4.0]
    assert after_switch and set(after_switch) == {MotionVerdict.STILL}  # the new picture became the background


def test_masked_motion_is_ignored_and_a_new_frame_size_starts_again(clips) -> None:
    path = [[0, 0.5 * HEIGHT], [WIDTH, 0.5 * HEIGHT], [WIDTH, HEIGHT], [0, HEIGHT]]  # where the person walks
    detector = MotionDetector(MotionConfig(masks=[path]))
    frames = _sampled(clips["quiet"])
    walking = [detector.check(image).verdict for t, image in frames if TRUTH.walk[0] + 0.3 <= t <= TRUTH.walk[1]]
    assert MotionVerdict.MOTION not in walking
    half = [(t, image[::2, ::2].copy()) for t, image in frames[:10]]  # the camera switches to its sub-stream
    assert detector.check(half[0][1]).verdict is MotionVerdict.CALIBRATING
    assert [detector.check(image).verdict for _, image in half[1:]] == [MotionVerdict.CALIBRATING] + [
        MotionVerdict.STILL
    ] * 8


def test_a_still_scene_is_detected_on_keyframes_only_and_a_busy_one_always(clips, bikes_mp4: Path) -> None:
    camera = CameraConfig.model_validate({"url": "x.mp4", "detect": {"keyframe_s": 2.0}})
    still = [(t, image) for t, image in _sampled(clips["quiet"]) if t < TRUTH.walk[0]]
    gate = MotionGate(camera, has_tracks=lambda: False)
    ran = [t for t, image in still if gate.needs_detection(_frame(t, image))]
    assert ran[:2] == [0.0, 0.2]  # the background is new
    assert np.allclose(np.diff(ran[1:]), 2.0, atol=0.21), ran  # then one every keyframe_s
    assert gate.counts.skipped_still == len(still) - len(ran) and gate.mode is GateMode.GATING

    busy = MotionGate(camera, has_tracks=lambda: False)
    street = _sampled(bikes_mp4, fps=10.0)  # every part of it moves, all the time: played forwards and back, 20 s
    street = street + street[::-1]
    decisions = [busy.needs_detection(_frame(t, image)) for t, image in street]
    assert all(decisions) and busy.mode is GateMode.BUSY


def _frame(t: float, image: np.ndarray):
    from streamer.frame import Frame

    return Frame("cam", 0, t, T0 + t, image)


def _run(
    clip: Path,
    models_dir: Path,
    storage: Path,
    rules: list[dict],
    zones: dict,
    gated: bool,
    extra_models: dict | None = None,
) -> tuple[EventRecorder, CameraWorker]:
    camera = CameraConfig.model_validate(
        {
            "url": str(clip),
            "start_time": START.isoformat(),
            "zones": zones,
            "rules": rules,
            "detect": {
                "fps": 5.0,
                "model": {"weights": "yolo26n.pt", "classes": ["person"]},
                "extra_models": extra_models or {},
                "motion": {"enabled": gated},
            },
        }
    )
    recorder = EventRecorder("scene", camera, storage)
    worker = CameraWorker("scene", camera, WorkerOptions(models_dir=models_dir), threading.Event(), sinks=[recorder])
    assert worker.run() == 0
    return recorder, worker


HALF = {"right": {"polygon": [[WIDTH // 2, 0], [WIDTH, 0], [WIDTH, HEIGHT], [WIDTH // 2, HEIGHT]]}}
CASES = {
    "quiet": ({}, HALF, [{"type": "zone_intrusion", "zone": "right", "min_inside_s": 0.0, "end_after_s": 1.0}]),
    "walk": (
        {},
        {"yard": {"polygon": [[400, 200], [640, 200], [640, 345], [400, 345]]}},
        [
            {"type": "zone_intrusion", "zone": "yard", "min_inside_s": 0.5, "end_after_s": 1.0},
            {"type": "line_crossing", "name": "gate-in", "start": [320, 150], "end": [320, 345], "direction": "in"},
        ],
    ),
    "fall": (
        {"fall": {"weights": "yolov8-fall.pt", "confidence": 0.5}},
        {},
        [{"type": "fall", "fall_model": "fall", "min_down_s": 1.0, "end_after_s": 1.0}],
    ),
    "walkers": (
        {},
        HALF,
        [
            {"type": "zone_intrusion", "zone": "right", "min_inside_s": 0.5, "end_after_s": 1.0},
            {"type": "count", "zone": "right", "max_count": 1, "min_duration_s": 0.4, "end_after_s": 0.0},
        ],
    ),
}


@pytest.mark.parametrize("clip", CASES)
def test_gated_events_equal_ungated_events(clip, clips, models_dir: Path, tmp_path: Path) -> None:
    extra, zones, rules = CASES[clip]
    runs = {
        gated: _run(clips[clip], models_dir, tmp_path / str(gated), rules, zones, gated, extra)
        for gated in (False, True)
    }
    plain, gated = ([e for e in runs[g][0].events if e.state is EventState.NEW] for g in (False, True))
    assert plain, f"{clip}: the clip raised no event to compare"
    assert [(e.rule, e.type) for e in gated] == [(e.rule, e.type) for e in plain]
    for a, b in zip(plain, gated):
        assert abs(a.start_ts - b.start_ts) <= 0.5, (clip, a.rule, a.start_ts - T0, b.start_ts - T0)
    stats = runs[True][1].stats
    if clip == "quiet":  # the detector ran on the person's frames and keyframes; most of the clip it skipped
        still = [t for t, _ in _sampled(clips["quiet"]) if 0.5 <= t < TRUTH.walk[0]]  # keyframes only, there
        assert runs[True][1].gate.counts.skipped_still >= len(still) - len(still) // 10 - 1
        assert stats.detected <= 0.7 * stats.sampled, (stats.detected, stats.sampled)
        assert abs(gated[0].start_ts - (T0 + TRUTH.enters_zone_at)) <= 0.5
        assert len(gated) == 1  # the cloud and the infrared switch raised nothing
    else:
        assert stats.sampled == runs[False][1].stats.sampled


def test_motion_masks_outside_the_frame_or_malformed_are_config_errors(models_dir: Path) -> None:
    text = """
    models_dir: {models}
    cameras:
      lobby:
        url: rtsp://127.0.0.1:8554/lobby
        detect:
          motion:
            masks:
              - [[0, 0], [-5, 10], [20, 20]]
    """
    (line,) = errors_of(text, models_dir)
    assert line.startswith("test.yaml:9: cameras.lobby.detect.motion.masks") and "greater than or equal to 0" in line
    two_points = text.replace("[[0, 0], [-5, 10], [20, 20]]", "[[0, 0], [5, 10]]")
    (line,) = errors_of(two_points, models_dir)
    assert line.startswith("test.yaml:9: cameras.lobby.detect.motion.masks[0]") and "at least 3" in line
    camera = CameraConfig.model_validate(
        {"url": "x.mp4", "detect": {"motion": {"masks": [[[0, 0], [900, 0], [0, 10]]]}}}
    )
    assert camera.points_outside(768, 576) == ["detect.motion.masks[0]"]
