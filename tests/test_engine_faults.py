"""The engine under faults, with `streamer run` as a user runs it: no shared memory left behind after a stop or a
crash, a killed camera worker unnoticed by the others, the export cache reused and rebuilt, `auto` falling back
to the next runtime in one line, a failing batch, a camera whose resolution changes mid-stream."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

import av
import cv2
import pytest

from streamer.config.cameras import Backend, Precision
from streamer.engine import runners
from streamer.engine.models import LoadSettings, ModelKey, ModelLoadError, ModelRegistry
from streamer.engine.shm import NAME_PREFIX
from streamer.frame import Frame
from testkit.service import write_config
from testkit.sources import camera
from testkit.waiting import wait_until
from tests.helpers.engine import engine_host

SHM = Path("/dev/shm")


def segments_of(pid: int) -> list[str]:
    return sorted(p.name for p in SHM.glob(f"{NAME_PREFIX}{pid}-*"))


def test_no_shared_memory_is_left_after_a_stop_or_a_crash(
    tmp_path: Path, models_dir: Path, bikes_mp4: Path, service_factory
) -> None:
    camera_yaml = f"  street: {{url: {bikes_mp4}, realtime: true, loop: true, detect: {{fps: 2}}}}\n"
    config = write_config(tmp_path, models_dir, camera_yaml)
    service = service_factory(config)
    service.wait_for(90, msg="engine connected", camera="street")
    assert segments_of(service.process.pid)  # the camera's slots exist while it runs
    service.process.send_signal(signal.SIGTERM)
    assert service.wait(20) == 0
    assert segments_of(service.process.pid) == []

    crashed = service_factory(config)
    crashed.wait_for(90, msg="engine connected", camera="street")
    children = [r["pid"] for r in crashed.find(msg="worker started")] + [
        r["pid"] for r in crashed.find(msg="engine started")
    ]
    os.kill(crashed.process.pid, signal.SIGKILL)  # the supervisor alone: its worker and engine are orphaned
    crashed.process.wait(5)
    assert wait_until(lambda: not any(_alive(pid) for pid in children), 20)  # they notice and stop by themselves
    assert wait_until(lambda: segments_of(crashed.process.pid) == [], 10)  # the resource tracker unlinked the slots


def test_segments_of_a_run_killed_with_its_whole_process_group_are_swept_by_the_next(
    tmp_path: Path, models_dir: Path, bikes_mp4: Path, service_factory
) -> None:
    """SIGKILL to the group takes the resource tracker too: nobody is left to unlink; the next run does."""
    config = write_config(
        tmp_path, models_dir, f"  street: {{url: {bikes_mp4}, realtime: true, loop: true, detect: {{fps: 2}}}}\n"
    )
    first = service_factory(config)
    first.wait_for(90, msg="engine connected", camera="street")
    first.kill()
    assert segments_of(first.process.pid)  # left behind
    second = service_factory(config)
    second.wait_for(90, msg="removed shared memory left by a killed run")
    assert segments_of(first.process.pid) == []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purpose
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_a_killed_camera_worker_goes_unnoticed_by_the_other_cameras(
    tmp_path: Path, models_dir: Path, bikes_mp4: Path, service_factory
) -> None:
    config = write_config(
        tmp_path,
        models_dir,
        f"""
  steady: {{url: {bikes_mp4}, realtime: true, detect: {{fps: 5}}}}
  victim: {{url: {bikes_mp4}, realtime: true, loop: true, detect: {{fps: 5}}}}
""",
    )
    service = service_factory(config)
    service.wait_for(90, msg="engine connected", camera="victim")
    service.wait_for(30, msg="camera stats", camera="steady", state="streaming")
    victim = service.find(msg="worker started", camera="victim")[0]["pid"]
    os.kill(victim, signal.SIGKILL)
    service.wait_for(20, msg="camera disconnected", camera="victim")  # the engine freed its slots
    service.wait_for(60, count=2, msg="engine connected", camera="victim")  # restarted and back on the same engine
    service.wait_for(60, msg="worker finished", camera="steady")
    final = service.find(msg="camera stats", camera="steady")[-1]
    assert final["detected"] == 50 and final["drops"] == 0  # every frame of the 10 s file at 5 fps
    assert not service.find(msg="engine died; restarting")
    service.process.send_signal(signal.SIGTERM)
    assert service.wait(20) == 0


def test_the_export_cache_is_reused_and_a_corrupted_entry_rebuilt(tmp_path: Path, models_dir: Path) -> None:
    settings = LoadSettings("cpu", tmp_path / "cache", 4, (320, 320), None)
    key = ModelKey(str(models_dir / "yolo26n.pt"), Backend.OPENVINO, Precision.FP32)
    first = ModelRegistry(settings).get(key)
    assert first.exported and first.artifact.is_dir()
    again = ModelRegistry(settings).get(key)
    assert not again.exported and again.artifact == first.artifact  # a second engine takes it from the cache
    xml = next(first.artifact.glob("*.xml"))
    xml.write_text("<net>truncated")
    rebuilt = ModelRegistry(settings).get(key)
    assert rebuilt.exported and rebuilt.artifact == first.artifact
    assert next(rebuilt.artifact.glob("*.xml")).stat().st_size > 10_000


def test_auto_falls_back_to_the_next_runtime_and_says_so(
    tmp_path: Path, models_dir: Path, monkeypatch, caplog: pytest.LogCaptureFixture
) -> None:
    def no_openvino(*_: object, **__: object) -> None:
        raise RuntimeError('Device with "CPU" name is not registered in the OpenVINO Runtime')

    monkeypatch.setattr(runners.OpenVinoRunner, "__init__", no_openvino)
    registry = ModelRegistry(LoadSettings("cpu", models_dir / "cache", 8, (640, 640), None))
    with caplog.at_level(logging.WARNING, logger="streamer.engine"):
        model = registry.get(ModelKey(str(models_dir / "yolo26n.pt"), Backend.AUTO, Precision.AUTO))
    assert model.runner.name == "onnxruntime"
    (line,) = [r.getMessage() for r in caplog.records if "cannot run on" in r.getMessage()]
    assert line.startswith("model yolo26n.pt cannot run on openvino: Device with") and line.endswith(
        "trying onnxruntime"
    )
    with pytest.raises(ModelLoadError, match=r"^model yolo26n.pt cannot run on openvino: Device with \"CPU\""):
        ModelRegistry(LoadSettings("cpu", models_dir / "cache", 8, (640, 640), None)).get(
            ModelKey(str(models_dir / "yolo26n.pt"), Backend.OPENVINO, Precision.FP32)
        )


def test_a_camera_whose_resolution_changes_mid_stream_keeps_working(bikes_mp4: Path, models_dir: Path) -> None:
    """The same street at 640x272, then 1280x720, then 320x180 through the engine process: every frame is
    answered, in its own pixels."""
    with av.open(str(bikes_mp4)) as container:
        images = [f.to_ndarray(format="bgr24") for n, f in enumerate(container.decode(video=0)) if 100 <= n < 130]
    sizes = [None] * 10 + [(1280, 720)] * 10 + [(320, 180)] * 10
    frames = [
        Frame("cam", n, n / 25, 1_800_000_000 + n / 25, image if size is None else cv2.resize(image, size))
        for n, (image, size) in enumerate(zip(images, sizes))
    ]
    cam = camera(str(bikes_mp4), detect={"fps": 25, "model": {"weights": "yolo26n.pt", "classes": ["person", "car"]}})
    host = engine_host({"cam": cam}, models_dir)
    host.start()
    stop = threading.Event()
    from streamer.engine.client import RemoteDetection

    detection = RemoteDetection("cam", cam, models_dir, host.link("cam"), stop, live=False)
    answers = []
    try:
        detection.start()
        pending = list(frames)
        deadline = time.monotonic() + 60
        while len(answers) < len(frames) and time.monotonic() < deadline:
            while pending and detection.free():
                detection.submit(pending.pop(0))
            answers.extend(detection.collect(0.2))
    finally:
        detection.close()
        host.stop()
    assert [a.frame.index for a in answers] == list(range(30))
    for answer in answers:
        boxes = answer.detections.xyxy
        assert not len(boxes) or (boxes[:, 2].max() <= answer.frame.width and boxes[:, 3].max() <= answer.frame.height)
    for block in (answers[:10], answers[10:20], answers[20:]):
        assert sum(1 for a in block if len(a.detections)) >= 5  # people and cars found at every size
    right_edges = [float(a.detections.xyxy[:, 2].max()) for a in answers if len(a.detections)]
    assert max(right_edges) > 700  # in the 1280x720 frames' own pixels


def test_a_batch_the_runtime_fails_on_is_answered_empty_and_the_engine_goes_on(
    bikes_mp4: Path, models_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    """The engine server in a thread of the test (so the fault can be injected into its runtime): one failing
    call gives its frames no detections and a logged error; the next frames are detected as before."""
    from streamer.config.engine import EngineConfig
    from streamer.engine.client import EngineLink, RemoteDetection
    from streamer.engine.models import LoadedModel
    from streamer.engine.server import EngineServer
    from streamer.engine.shm import SlotSegment

    real_infer = LoadedModel.infer
    calls = []

    def fails_once(self, inputs, params):
        calls.append(len(inputs))
        if len(calls) == 2:
            raise RuntimeError("injected: the runtime failed on this batch")
        return real_infer(self, inputs, params)

    monkeypatch.setattr(LoadedModel, "infer", fails_once)
    with av.open(str(bikes_mp4)) as container:
        images = [f.to_ndarray(format="bgr24") for n, f in enumerate(container.decode(video=0)) if 101 <= n < 113]
    cam = camera(str(bikes_mp4), detect={"model": {"weights": "yolo26n.pt", "classes": ["person", "car"]}})
    stop = threading.Event()
    address = str(tmp_path / "engine.sock")
    server = EngineServer(
        address,
        b"key",
        LoadSettings("cpu", models_dir / "cache", 8, (640, 640), None),
        EngineConfig(max_batch=1),
        3600,
        stop,
    )
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    segment = SlotSegment.create("cam", 640 * 640 * 3, 1)
    detection = RemoteDetection(
        "cam", cam, models_dir, EngineLink(address, b"key", segment.name, segment.slot_bytes, 1), stop, live=False
    )
    answers = []
    try:
        detection.start()
        for n, image in enumerate(images):
            detection.submit(Frame("cam", n, n / 25, 1_800_000_000 + n / 25, image))
            while not (got := detection.collect(5.0)):
                pass
            answers.extend(got)
    finally:
        stop.set()
        detection.close()
        thread.join(5)
        segment.close()
    assert [a.frame.index for a in answers] == list(range(12))
    assert len(answers[1].detections) == 0  # the failed call
    assert all(len(a.detections) for n, a in enumerate(answers) if n != 1)  # people and cars before and after it
    assert server.stats.failed == 1 and thread.is_alive() is False
