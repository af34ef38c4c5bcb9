"""Stopping as a user does (issue 16): Ctrl-C in the terminal reaches the whole foreground process group. The
embedded Redis runs in a session of its own, so it outlives the service's last flush and is stopped after it:
no ERROR line, nothing left in the spool, the final health states in Redis. A re-run of the same file (same
start_time, so the same segment names) stopped half-way never replaces a finished segment with a shorter one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from streamer.index import db, store
from streamer.record.segment import recorded_seconds
from testkit.service import Service

STREAMER = [sys.executable, "-m", "streamer"]


START = datetime.fromtimestamp(time.time() - 3600, timezone.utc).replace(microsecond=0).isoformat()  # inside retention


def street(folder: Path, models_dir: Path, bikes_mp4: Path, realtime: bool) -> Path:
    config = folder / f"street-{'live' if realtime else 'fast'}.yaml"
    config.write_text(f"""
storage_dir: {folder / "data"}
models_dir: {models_dir}
api: {{enabled: false}}
cameras:
  street:
    url: {bikes_mp4}
    start_time: "{START}"
    realtime: {str(realtime).lower()}
    detect: {{fps: 5, model: {{weights: yolo26n.pt, classes: [person]}}}}
    record: {{segment_s: 60}}
""")
    return config


def test_ctrl_c_stops_cleanly_and_a_stopped_rerun_keeps_the_finished_segment(
    tmp_path: Path, models_dir: Path, bikes_mp4: Path
) -> None:
    first = subprocess.run(
        [*STREAMER, "run", "-c", str(street(tmp_path, models_dir, bikes_mp4, False))],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert first.returncode == 0, first.stderr[-3000:]
    conn = db.connect(tmp_path / "data", readonly=True)
    [finished] = store.segments_of(conn, "street")
    conn.close()
    path = tmp_path / "data" / finished.path
    assert 9.9 < recorded_seconds(path) < 10.1

    rerun = Service(street(tmp_path, models_dir, bikes_mp4, True))
    rerun.wait_for(120, msg="source state", state="streaming")
    rerun.wait_for(30, msg="camera stats")  # a few seconds into the 10 s file
    os.killpg(rerun.process.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
    assert rerun.wait(30) == 0
    errors = [r for r in rerun.records if r.get("level") in ("ERROR", "CRITICAL")]
    assert not errors, errors
    assert "Traceback" not in "\n".join(rerun.lines)
    assert any(r.get("msg", "").startswith("kept the finished segment") for r in rerun.records), rerun.lines[-30:]

    assert 9.9 < recorded_seconds(path) < 10.1  # not the 4-second one the stopped re-run had
    conn = db.connect(tmp_path / "data", readonly=True)
    assert [(s.path, round(s.end_ts - s.start_ts, 1)) for s in store.segments_of(conn, "street")] == [
        (finished.path, 10.0)
    ]
    conn.close()
    spool = tmp_path / "data" / "spool"
    assert all(not line.strip() for file in spool.glob("*.jsonl") for line in _pending(file)), "left in the spool"
    assert not (tmp_path / "data" / "redis" / "redis.sock").exists()  # the embedded server was stopped, last

    health = subprocess.run(
        [
            *STREAMER,
            "alerts",
            "tail",
            "-c",
            str(street(tmp_path, models_dir, bikes_mp4, True)),
            "--health",
            "--from-start",
            "--no-follow",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    states = [
        (h["component"], h["state"]) for h in map(json.loads, health.stdout.splitlines()) if h["camera"] == "street"
    ]
    last_run = states[len(states) - states[::-1].index(("worker", "started")) :]
    assert last_run[-1] == ("worker", "stopped") and ("recorder", "stopped") in last_run, str(states)


def _pending(spool_file: Path) -> list[str]:
    """The spool's lines past its delivered offset (the `.offset` file beside it)."""
    offset_file = spool_file.with_suffix(spool_file.suffix + ".offset")
    offset = int(offset_file.read_text() or 0) if offset_file.exists() else 0
    return spool_file.read_bytes()[offset:].decode().splitlines()


def test_save_annotated_logs_only_a_file_it_wrote(tmp_path: Path, models_dir: Path) -> None:
    """A camera that never delivers a frame writes no annotated video, and the log does not claim one."""
    config = tmp_path / "dead.yaml"
    config.write_text(f"""
storage_dir: {tmp_path / "data"}
models_dir: {models_dir}
api: {{enabled: false}}
cameras:
  dead:
    url: rtsp://127.0.0.1:9/none
    connection: {{max_attempts: 1, open_timeout_s: 1, read_timeout_s: 1}}
    detect: {{model: {{weights: yolo26n.pt}}}}
""")
    result = subprocess.run(
        [*STREAMER, "run", "-c", str(config), "--log-format", "json", "--save-annotated", str(tmp_path / "annotated")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    log = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert not any(r["msg"] == "annotated video written" for r in log), result.stderr[-2000:]
    assert not list((tmp_path / "annotated").glob("*"))
