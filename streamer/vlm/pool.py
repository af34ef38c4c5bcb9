"""The VLM workers `streamer run` starts itself (`vlm.workers`), as `streamer vlm-worker` processes; at the end of
a run it waits (up to `vlm.drain_timeout_s`) until the queue holds nothing waiting or running, then stops them."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

import redis

from streamer.alerts.redis_access import connect
from streamer.alerts.streams import StreamNames
from streamer.config.vlm import VlmConfig
from streamer.vlm.queue import JobQueue

log = logging.getLogger("streamer.vlm")


class WorkerPool:
    def __init__(self, config_path: Path, vlm: VlmConfig, url: str, prefix: str, log_format: str):
        self.vlm = vlm
        self.url = url
        self.names = StreamNames(prefix)
        self.processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "streamer",
                    "vlm-worker",
                    "--config",
                    str(config_path),
                    "--redis-url",
                    url,
                    "--consumer",
                    f"run-{index}",
                    "--log-format",
                    log_format,
                ],
                stdout=subprocess.DEVNULL,
            )
            for index in range(vlm.workers)
        ]
        log.info(
            "VLM workers started", extra={"fields": {"workers": len(self.processes), "backend": vlm.backend.value}}
        )

    def drain_and_stop(self) -> dict[str, int]:
        deadline = time.monotonic() + self.vlm.drain_timeout_s
        stats: dict[str, int] = {}
        try:
            queue = JobQueue(connect(self.url, 3.0), self.names, self.vlm.queue)
            while time.monotonic() < deadline and any(p.poll() is None for p in self.processes):
                stats = queue.stats()
                if stats["waiting"] == 0 and stats["running"] == 0:
                    break
                time.sleep(0.5)
        except redis.RedisError as error:
            log.warning("VLM queue unreachable at the end of the run: %s", error)
        if stats.get("waiting") or stats.get("running"):
            log.warning("VLM jobs left for a later `streamer vlm-worker`", extra={"fields": stats})
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        return stats
