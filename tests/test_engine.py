"""The shared inference engine as `streamer run` starts it (a real engine process, real weights, real video):
several cameras at once, the same boxes as ultralytics' own `.pt`, an engine killed mid-run, live drops."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import av
import numpy as np
import pytest
from ultralytics import YOLO

from streamer.config.cameras import Backend, Precision
from streamer.engine.agreement import box_agreement
from streamer.engine.geometry import InputGeometry, to_source_pixels
from streamer.engine.models import LoadSettings, ModelKey, ModelRegistry, NmsParams
from streamer.runtime.worker import EXIT_OK, CameraWorker, WorkerOptions
from testkit.rtsp import RtspServer, free_port, gst_rtsp_available
from testkit.sources import camera
from testkit.waiting import wait_until
from testkit.walkers import walkers_clip
from tests.helpers.engine import Collect, Supervising, engine_host, start_workers

PEOPLE_AND_CARS = ["person", "car", "bicycle"]


@pytest.fixture(scope="module")
def walkers(tmp_path_factory: pytest.TempPathFactory, bikes_mp4: Path) -> Path:
    return walkers_clip(tmp_path_factory.mktemp("walkers"), bikes_mp4, width=768, height=576, fps=10, seconds=6)


@pytest.fixture(scope="module")
def small_walkers(tmp_path_factory: pytest.TempPathFactory, bikes_mp4: Path) -> Path:
    return walkers_clip(tmp_path_factory.mktemp("small"), bikes_mp4, width=480, height=360, fps=15, seconds=4)


def detect(fps: float, **fields: object) -> dict:
    return {"fps": fps, "model": {"weights": "yolo26n.pt", "classes": PEOPLE_AND_CARS}, **fields}


def test_one_engine_serves_three_cameras_of_different_sizes_and_rates(
    bikes_mp4: Path, walkers: Path, small_walkers: Path, models_dir: Path, capfd: pytest.CaptureFixture
) -> None:
    cameras = {
        "street": camera(str(bikes_mp4), start_time="2026-11-21T09:00:00+00:00", detect=detect(12.5)),  # 640x272 25 fps
        "yard": camera(str(walkers), start_time="2026-11-21T09:00:00+00:00", detect=detect(10)),  # 768x576 10 fps
        "gate": camera(
            str(small_walkers), start_time="2026-11-21T09:00:00+00:00", detect=detect(7.5)
        ),  # 480x360 15 fps
    }
    host = engine_host(cameras, models_dir)
    host.start()
    stop = threading.Event()
    try:
        running = start_workers(host, cameras, models_dir, stop)
        for holder in running.values():
            holder.thread.join(180)
    finally:
        host.stop()
    assert {name: h.code for name, h in running.items()} == {name: [EXIT_OK] for name in cameras}
    assert {name: len(h.frames) for name, h in running.items()} == {"street": 125, "yard": 60, "gate": 30}
    for name, holder in running.items():
        frames = [t.frame for t in holder.frames]
        assert [f.index for f in frames] == sorted(f.index for f in frames)  # answers in frame order
        assert all(b.pts_s > a.pts_s and b.wall_ts > a.wall_ts for a, b in zip(frames, frames[1:]))
        height, width = frames[0].height, frames[0].width
        boxes = np.concatenate([t.detections.xyxy for t in holder.frames])
        assert len(boxes) > 20, name  # real people and cars were found
        assert boxes.min() >= 0 and boxes[:, 2].max() <= width and boxes[:, 3].max() <= height  # source pixels
    log = capfd.readouterr().err
    assert log.count("camera connected") == 3  # one engine, three cameras
    batch_max = [
        int(part.split("=")[1])
        for line in log.splitlines()
        if "engine stats" in line
        for part in line.split()
        if part.startswith("batch_max=")
    ]
    assert max(batch_max) >= 2  # frames of several cameras went into one call


def test_the_engine_gives_the_same_tracks_as_the_models_in_the_worker(bikes_mp4: Path, models_dir: Path) -> None:
    """Shared memory, the socket and batching change nothing: ByteTrack sees the same boxes, so ids match too."""
    cam = camera(str(bikes_mp4), start_time="2026-11-21T09:00:00+00:00", detect=detect(5))
    local = Collect()
    assert CameraWorker("street", cam, WorkerOptions(models_dir), threading.Event(), sinks=[local]).run() == EXIT_OK
    host = engine_host({"street": cam}, models_dir)
    host.start()
    try:
        (remote,) = start_workers(host, {"street": cam}, models_dir, threading.Event()).values()
        remote.thread.join(120)
    finally:
        host.stop()
    assert len(remote.frames) == len(local.frames) == 50
    for ours, theirs in zip(remote.frames, local.frames):
        assert ours.frame.pts_s == theirs.frame.pts_s
        assert list(ours.detections.tracker_id) == list(theirs.detections.tracker_id)
        np.testing.assert_allclose(ours.detections.xyxy, theirs.detections.xyxy, atol=0.5)
        assert set(ours.extra) == set(theirs.extra) == set()


@pytest.fixture(scope="module")
def bikes_frames(bikes_mp4: Path) -> list[np.ndarray]:
    with av.open(str(bikes_mp4)) as container:
        return [f.to_ndarray(format="bgr24") for n, f in enumerate(container.decode(video=0)) if n % 5 == 0]


@pytest.mark.parametrize("backend", [Backend.OPENVINO, Backend.ONNXRUNTIME, Backend.PYTORCH])
def test_each_cpu_backend_finds_the_boxes_ultralytics_finds(backend: Backend, bikes_frames, models_dir: Path) -> None:
    """IoU >= 0.9 with a box of the same class, for >= 98 % of boxes both ways, against YOLO(.pt).predict."""
    weights = models_dir / "yolo26n.pt"
    reference = [r.boxes.data.numpy() for r in YOLO(str(weights)).predict(bikes_frames, verbose=False, conf=0.25)]
    model = ModelRegistry(LoadSettings("cpu", models_dir / "cache", 8, (640, 640), None)).get(
        ModelKey(str(weights), backend, Precision.FP32)
    )
    assert model.runner.name == backend.value
    geometry = InputGeometry(640)
    ours = []
    for start in range(0, len(bikes_frames), 8):
        chunk = bikes_frames[start : start + 8]
        inputs = [geometry.letterbox(f) for f in chunk]
        for image, frame, boxes in zip(inputs, chunk, model.infer(inputs, [NmsParams(0.25, 0.7, None)] * len(chunk))):
            boxes[:, :4] = to_source_pixels(boxes[:, :4], image.shape[:2], frame.shape[:2])
            ours.append(boxes)
    agreement = box_agreement(reference, ours)
    assert agreement.boxes_reference > 100
    assert agreement.reference_pct >= 98 and agreement.candidate_pct >= 98, agreement.as_dict()


def test_a_killed_engine_is_restarted_and_a_file_loses_no_frame_nor_its_track_ids(
    bikes_mp4: Path, models_dir: Path
) -> None:
    cam = camera(str(bikes_mp4), realtime=True, start_time="2026-11-21T09:00:00+00:00", detect=detect(12.5))
    host = engine_host({"street": cam}, models_dir)
    host.start()
    try:
        with Supervising(host):
            (holder,) = start_workers(host, {"street": cam}, models_dir, threading.Event()).values()
            assert wait_until(lambda: len(holder.frames) >= 40, 60)
            killed_at = len(holder.frames)
            os.kill(host.pids[0], signal.SIGKILL)
            holder.thread.join(120)
            restarts = host.engines["cpu"].restarts
    finally:
        host.stop()
    assert holder.code == [EXIT_OK]
    assert restarts == 1
    detection = holder.worker.detection.inner  # behind the motion gate: the engine's client
    assert detection.engine_restarts == 1 and detection.dropped == 0  # a file waits; its frames were asked again
    assert [t.frame.index for t in holder.frames] == sorted(t.frame.index for t in holder.frames)
    assert len(holder.frames) == 125
    before = {int(i) for t in holder.frames[killed_at - 8 : killed_at] for i in t.detections.tracker_id}
    after = {int(i) for t in holder.frames[killed_at + 5 : killed_at + 15] for i in t.detections.tracker_id}
    assert before & after  # the same objects keep their ids across the engine's restart


@pytest.mark.rtsp
@pytest.mark.skipif(not gst_rtsp_available(), reason="GStreamer RTSP server not installed (make test installs it)")
def test_a_live_camera_drops_its_oldest_frames_when_the_engine_falls_behind(models_dir: Path) -> None:
    """25 fps from a real RTSP server, detected with PyTorch at a 1280 input on 2 cores (a few fps): the worker
    drops the oldest frames and counts them; what it does detect stays in order and fresh. Killing the engine then
    counts the live frames it held as dropped."""
    server = RtspServer(free_port(), fps=25).start()
    cam = camera(
        server.url,
        detect={
            "fps": 25,
            "backend": "pytorch",
            "model": {"weights": "yolo26n.pt", "imgsz": 1280},
            "motion": {"enabled": False},
        },  # every frame to the engine: it must fall behind
        connection={"queue_size": 4, "open_timeout_s": 5, "read_timeout_s": 5},
    )
    host = engine_host({"live": cam}, models_dir)
    host.start()
    stop = threading.Event()
    try:
        with Supervising(host):
            (holder,) = start_workers(host, {"live": cam}, models_dir, stop).values()
            assert wait_until(lambda: len(holder.frames) >= 10, 90)
            os.kill(host.pids[0], signal.SIGKILL)
            detection = holder.worker.detection
            assert wait_until(lambda: detection.engine_restarts == 1, 30)  # no gate: the engine's client itself
            assert wait_until(lambda: len(holder.frames) >= 20, 90)
            stop.set()
            holder.thread.join(20)
    finally:
        stop.set()
        host.stop()
        server.stop()
    worker = holder.worker
    assert worker.queue.dropped > 50  # far more frames arrived than were detected, and each was counted
    assert detection.dropped >= 1  # the frames the killed engine held
    indices = [t.frame.index for t in holder.frames]
    assert indices == sorted(indices) and len(set(indices)) == len(indices)
    assert max(b - a for a, b in zip(indices, indices[1:])) > 1  # frames were skipped, not queued up
