"""At-least-once delivery of VLM jobs against a real Redis and real `streamer vlm-worker` processes: a worker
killed mid-job leaves it to another, and a job that keeps failing ends on the dead-letter stream with its event
updated, never left pending."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from streamer.alerts.streams import StreamNames
from streamer.vlm.queue import JobQueue
from testkit.redis_server import RedisServer
from testkit.vlm import announce, answer, make_job, published, video_frames, vlm_config
from testkit.waiting import terminate


def write_config(tmp_path: Path, redis_url: str, scripted: dict, **queue) -> Path:
    (tmp_path / "answers.yaml").write_text(yaml.safe_dump(scripted))
    config = tmp_path / "vlm.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "storage_dir": str(tmp_path),
                "redis": {"url": redis_url},
                "vlm": {"backend": "scripted", "scripted": {"responses": "answers.yaml"}, "queue": queue},
                "cameras": {"lobby": {"url": str(tmp_path / "unused.mp4")}},
            }
        )
    )
    return config


def worker(config: Path, consumer: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamer",
            "vlm-worker",
            "--config",
            str(config),
            "--consumer",
            consumer,
            "--log-format",
            "json",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_job_of_a_killed_worker_is_done_by_another_once(tmp_path: Path, bikes_mp4: Path) -> None:
    server = RedisServer(tmp_path / "redis").start()
    client = server.client()
    try:
        config = write_config(tmp_path, server.url, {"fall": [{"delay_s": 60, "answer": answer()}]}, claim_idle_s=1.0)
        queue = JobQueue(client, StreamNames(), vlm_config(tmp_path).queue)
        announce(client, "lobby-0001")
        queue.enqueue(make_job(tmp_path, video_frames(bikes_mp4, 6)))
        slow = worker(config, "slow")
        wait_for(lambda: queue.stats()["running"] == 1)  # taken by the slow worker, which now "thinks"
        slow.send_signal(signal.SIGKILL)
        slow.wait(10)
        (tmp_path / "answers.yaml").write_text(yaml.safe_dump({"fall": [answer(start=2.0, end=3.0)]}))
        rescuer = worker(config, "rescuer", "--max-jobs", "1")
        out, err = rescuer.communicate(timeout=60)
        assert rescuer.returncode == 0, err[-2000:]
        (update,) = [m for m in published(client) if m["state"] == "update"]
        assert update["verification"] == "confirmed" and update["vlm"]["attempts"] == 2
        summary = json.loads(out.strip().splitlines()[-1])
        assert summary["jobs_done"] == 1 and summary["queue"]["running"] == 0 and summary["queue"]["waiting"] == 0
        assert client.xlen("streamer:vlm:jobs") == 0  # acknowledged and deleted
    finally:
        client.close()
        server.stop()


def test_a_job_failing_every_time_goes_to_the_dead_letters_and_unblocks_its_event(
    tmp_path: Path, bikes_mp4: Path
) -> None:
    server = RedisServer(tmp_path / "redis").start()
    client = server.client()
    try:
        config = write_config(
            tmp_path, server.url, {"fall": [{"error": "CUDA out of memory"}]}, claim_idle_s=0.2, max_deliveries=2
        )
        queue = JobQueue(client, StreamNames(), vlm_config(tmp_path).queue)
        announce(client, "lobby-0001")
        queue.enqueue(make_job(tmp_path, video_frames(bikes_mp4, 6)))
        process = worker(config, "w1", "--exit-when-idle", "3")
        try:
            wait_for(lambda: client.xlen("streamer:vlm:dead") == 1, timeout=60)
        finally:
            terminate(process, grace_s=10)
        ((_, dead),) = client.xrange("streamer:vlm:dead")
        assert dead[b"attempts"] == b"2" and b"CUDA out of memory" in dead[b"error"]
        assert json.loads(dead[b"job"])["job_id"] == "lobby-0001-new"
        (update,) = [m for m in published(client) if m["state"] == "update"]
        assert (update["verification"], update["vlm"]["status"]) == ("unverified", "failed")
        assert "CUDA out of memory" in update["vlm"]["error"]
        assert queue.stats()["dead"] == 1 and client.xlen("streamer:vlm:jobs") == 0
    finally:
        client.close()
        server.stop()
