"""Entry point of a camera's worker process (spawned, so CUDA and threads start clean)."""

from __future__ import annotations

import logging
import signal
import sys
from dataclasses import asdict
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event

from streamer.config.cameras import CameraConfig
from streamer.logs import setup_logging
from streamer.runtime.worker import CameraWorker, WorkerOptions
from streamer.source.state import StateChange


def worker_main(
    name: str,
    camera: CameraConfig,
    options: WorkerOptions,
    log_level: str,
    log_format: str,
    changes: Queue,
    stop: Event,
) -> None:
    # Ctrl-C reaches the whole process group; the supervisor decides, and tells us through `stop`
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    setup_logging(log_level, log_format)

    def report(change: StateChange) -> None:
        changes.put(asdict(change))

    try:
        code = CameraWorker(name, camera, options, stop, on_state=report).run()
    except Exception:
        logging.getLogger("streamer.worker").exception("worker crashed", extra={"fields": {"camera": name}})
        code = 1
    sys.exit(code)
