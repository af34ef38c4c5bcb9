"""`streamer run` as a user runs it: worker processes per camera, bad cameras isolated, signals, crash restarts."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from testkit.rtsp import free_port
from testkit.service import STREAMER, write_config
from tests.helpers.clips import constant_rate, write_clip


def test_bad_cameras_are_reported_while_the_good_one_runs_and_sigterm_stops_all(
    tmp_path: Path, models_dir: Path, bikes_mp4: Path, service_factory
) -> None:
    (tmp_path / "notes.mp4").write_text("not a video\n" * 50)
    whole = write_clip(tmp_path / "whole.mp4", constant_rate(25, 4.0), width=320, height=240).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(whole[: len(whole) // 2])
    config = write_config(
        tmp_path,
        models_dir,
        f"""
  street: {{url: {bikes_mp4}, detect: {{fps: 2}}}}
  notes: {{url: notes.mp4}}
  cut: {{url: cut.mp4}}
  dead:
    url: rtsp://viewer:hunter2@127.0.0.1:{free_port()}/cam
    connection: {{reconnect_initial_s: 0.5, reconnect_max_s: 1}}
""",
    )
    service = service_factory(config, "--save-annotated", str(tmp_path / "annotated"))
    service.wait_for(120, msg="worker finished", camera="street")
    failed = {r["camera"]: r["reason"] for r in service.find(msg="source state", state="failed")}
    assert set(failed) == {"notes", "cut"}
    assert failed["notes"].endswith("the file is truncated, corrupt or not a video")
    assert service.find(camera="dead", state="reconnecting")  # still being retried, not failed
    stopping_at = time.monotonic()
    service.process.send_signal(signal.SIGTERM)
    code = service.wait(15)
    assert time.monotonic() - stopping_at < 10
    assert code == 1  # two cameras failed
    output = "\n".join(service.lines)
    assert "Traceback" not in output and "hunter2" not in output
    summary = {r["camera"]: r["outcome"] for r in service.find(msg="camera summary")}
    assert summary == {"street": "finished", "notes": "failed", "cut": "failed", "dead": "finished"}
    assert (tmp_path / "annotated" / "street.mp4").stat().st_size > 10_000
    stats = service.find(msg="camera stats", camera="street")
    assert stats and {"fps_in", "fps_detected", "drops", "tracks_active", "state"} <= set(stats[-1])


def test_file_run_ends_by_itself_with_exit_0(tmp_path: Path, models_dir: Path, service_factory) -> None:
    clip = write_clip(tmp_path / "short.mp4", constant_rate(10, 2.0))
    config = write_config(
        tmp_path, models_dir, f"  a: {{url: {clip}, detect: {{fps: 2}}}}\n  b: {{url: {clip}, detect: {{fps: 2}}}}\n"
    )
    service = service_factory(config)
    assert service.wait(120) == 0
    assert len(service.find(msg="worker finished")) == 2


def test_a_crashed_worker_is_restarted_while_the_service_runs(
    tmp_path: Path, models_dir: Path, bikes_mp4: Path, service_factory
) -> None:
    config = write_config(
        tmp_path, models_dir, f"  loop: {{url: {bikes_mp4}, loop: true, realtime: true, detect: {{fps: 1}}}}\n"
    )
    service = service_factory(config)
    first = service.wait_for(60, msg="source state", camera="loop", state="streaming")
    started = service.find(msg="worker started", camera="loop")[0]
    os.kill(started["pid"], signal.SIGKILL)
    service.wait_for(20, msg="worker crashed; restarting", camera="loop")
    restarted = service.wait_for(30, count=2, msg="worker started", camera="loop")
    assert restarted["pid"] != started["pid"]
    again = service.wait_for(60, count=2, msg="source state", camera="loop", state="streaming")
    assert again["ts"] > first["ts"]
    service.process.send_signal(signal.SIGINT)
    assert service.wait(15) == 0


def test_run_refuses_a_config_with_a_wrong_model_path(tmp_path: Path, models_dir: Path) -> None:
    config = write_config(tmp_path, models_dir, "  a: {url: x.mp4, detect: {model: {weights: missing/best.pt}}}\n")
    result = subprocess.run([*STREAMER, "run", "--config", str(config)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "cameras.a.detect.model.weights: model weights 'missing/best.pt' not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_file_is_reported_while_the_model_is_still_loading(
    tmp_path: Path, models_dir: Path, service_factory
) -> None:
    """A models folder with no export cache: the engine spends seconds exporting; the camera's verdict must not
    wait for it (before: reported only once the model had loaded, 12-37 s)."""
    fresh = tmp_path / "models"
    fresh.mkdir()
    (fresh / "yolo26n.pt").write_bytes((models_dir / "yolo26n.pt").read_bytes())
    (tmp_path / "notes.mp4").write_text("not a video\n" * 50)
    service = service_factory(write_config(tmp_path, fresh, "  notes: {url: notes.mp4}\n"))
    failed = service.wait_for(120, msg="source state", camera="notes", state="failed")
    loaded = service.wait_for(120, msg="model loaded")
    assert failed["ts"] < loaded["ts"]
    assert service.wait(60) == 1
