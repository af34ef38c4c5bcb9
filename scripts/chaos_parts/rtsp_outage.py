"""RTSP servers killed (SIGKILL) for a while and started again, under a real `streamer run` with a second camera
that stays up: seconds from the server's return to the camera's next frame, worker restarts, and the other
camera's detected fps during each outage."""

from __future__ import annotations

import signal
import time
from datetime import datetime
from pathlib import Path

from scripts.chaos_parts.common import Service, percentiles
from testkit.rtsp import RtspServer, free_port

CAMERA_YAML = """  {name}:
    url: {url}
    detect: {{fps: 5}}
    record: {{mode: "off"}}
"""


def _ts(record: dict) -> float:
    return datetime.fromisoformat(record["ts"]).timestamp()


def _kill(server: RtspServer) -> None:
    if server.process is not None:
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(5)
        server.process = None


def run(folder: Path, models_dir: Path, lengths: list[float], repeats: int) -> dict:
    flaky, steady = RtspServer(free_port()).start(), RtspServer(free_port()).start()
    config = folder / "outage.yaml"
    cameras = CAMERA_YAML.format(name="flaky", url=flaky.url) + CAMERA_YAML.format(name="steady", url=steady.url)
    config.write_text(
        f"models_dir: {models_dir.resolve()}\nstorage_dir: {folder / 'data'}\napi: {{enabled: false}}\n"
        f"logging: {{stats_interval_s: 1}}\ncameras:\n{cameras}"
    )
    service = Service(config)
    recoveries: dict[str, list[float]] = {str(length): [] for length in lengths}
    others_fps: list[float] = []
    try:
        service.wait_for(120, msg="source state", camera="flaky", state="streaming")
        service.wait_for(60, msg="source state", camera="steady", state="streaming")
        for length in lengths:
            for _ in range(repeats):
                time.sleep(2.0)  # streaming again for a moment
                killed = time.time()
                _kill(flaky)
                time.sleep(length)
                flaky.start()
                back = time.time()
                seen = len(service.find(msg="source state", camera="flaky", state="streaming"))
                record = service.wait_for(60, count=seen + 1, msg="source state", camera="flaky", state="streaming")
                recoveries[str(length)].append(round(_ts(record) - back, 2))
                others_fps += [
                    r["fps_detected"]
                    for r in service.find(msg="camera stats", camera="steady")
                    if killed + 1.5 < _ts(r) <= back
                ]  # whole stats intervals inside the outage
        restarts = len(service.find(msg="worker crashed"))
    finally:
        service.stop(20)
        flaky.stop()
        steady.stop()
    every = [value for values in recoveries.values() for value in values]
    return {
        "outages": {length: percentiles(values) for length, values in recoveries.items()},
        "recovery_s": percentiles(every),
        "worker_restarts": restarts,
        "other_camera_fps_during_outages": percentiles(others_fps),
        "other_camera_fps_target": 5.0,
    }
