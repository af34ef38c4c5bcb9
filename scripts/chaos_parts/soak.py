"""A soak: `streamer run` with looping cameras (a file replayed as live, with a zone rule that fires every few
seconds), sampled from /proc while it runs: RSS, open file descriptors and threads per process, and the shared-
memory segments. Slopes are fitted over the second half (the first is warm-up: models, caches, the index)."""

from __future__ import annotations

import time
from pathlib import Path

from scripts.chaos_parts.common import (
    Service,
    children,
    fd_count,
    process_name,
    rss_mb,
    shm_segments,
    slope_per_hour,
    thread_count,
)

CAMERA_YAML = """  {name}:
    url: {clip}
    loop: true
    realtime: true
    start_time: now
    detect: {{fps: 5}}
    zones: {{road: {{polygon: [[0, 120], [640, 120], [640, 272], [0, 272]]}}}}
    rules: [{{type: zone_intrusion, zone: road, classes: [person, bicycle, car], end_after_s: 1, cooldown_s: 0}}]
"""


def run(folder: Path, models_dir: Path, clip: Path, cameras: int, seconds: float, every_s: float) -> dict:
    config = folder / "soak.yaml"
    body = "".join(CAMERA_YAML.format(name=f"cam{n}", clip=clip) for n in range(cameras))
    config.write_text(
        f"models_dir: {models_dir.resolve()}\nstorage_dir: {folder / 'data'}\napi: {{enabled: false}}\n"
        f"logging: {{stats_interval_s: 30}}\ncameras:\n{body}"
    )
    service = Service(config)
    samples: dict[int, list[tuple[float, float, int, int]]] = {}
    names: dict[int, str] = {}
    shm: list[tuple[float, int]] = []
    try:
        for n in range(cameras):
            service.wait_for(180, msg="source state", camera=f"cam{n}", state="streaming")
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            now = time.monotonic() - started
            supervisor = service.process.pid
            for pid in [supervisor, *children(supervisor)]:
                rss, fds, threads = rss_mb(pid), fd_count(pid), thread_count(pid)
                if rss is not None and fds is not None and threads is not None:
                    samples.setdefault(pid, []).append((now, rss, fds, threads))
                    names.setdefault(pid, _short_name(pid, service))
            shm.append((now, shm_segments(f"streamer-{supervisor}-")))  # this run's only: tests may run beside it
            time.sleep(every_s)
        alerts = len(service.find(msg="published", stream="streamer:alerts"))
        restarts = len(service.find(msg="worker crashed"))
    finally:
        service.stop(30)
    processes = {}
    for pid, rows in samples.items():
        if len(rows) < 4:
            continue  # a helper that came and went
        late = rows[len(rows) // 2 :]
        processes[f"{pid} {names[pid]}"] = {
            "rss_mb_first": rows[0][1],
            "rss_mb_last": rows[-1][1],
            "rss_mb_per_hour": _round(slope_per_hour([(t, r) for t, r, _, _ in late])),
            "fds_first": rows[0][2],
            "fds_last": rows[-1][2],
            "fds_max": max(r[2] for r in rows),
            "threads_first": rows[0][3],
            "threads_last": rows[-1][3],
            "threads_max": max(r[3] for r in rows),
        }
    return {
        "cameras": cameras,
        "seconds": seconds,
        "alerts_published": alerts,
        "worker_restarts": restarts,
        "shm_segments_first": shm[0][1] if shm else None,
        "shm_segments_last": shm[-1][1] if shm else None,
        "shm_segments_after_stop": shm_segments(f"streamer-{service.process.pid}-"),
        "processes": processes,
    }


def _short_name(pid: int, service: Service) -> str:
    """What the process is: a worker or the engine (from the supervisor's log), else from its command line."""
    for record in service.find(msg="worker started", pid=pid):
        return f"worker {record['camera']}"
    if service.find(msg="engine started", pid=pid):
        return "engine"
    command = process_name(pid)
    if "streamer run" in command or "-m streamer run" in command:
        return "supervisor"
    if "resource_tracker" in command:
        return "resource-tracker"
    if "redis" in command:
        return "embedded-redis"
    if "spawn_main" in command:
        return "worker-or-engine"
    return command[:40]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
