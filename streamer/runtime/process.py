"""Entry point of a camera's worker process (spawned, so CUDA and threads start clean)."""

from __future__ import annotations

import logging
import signal
import sys
from dataclasses import asdict
from multiprocessing.queues import Queue

from streamer.config.cameras import CameraConfig
from streamer.logs import setup_logging
from streamer.runtime.stop import SignalStop
from streamer.runtime.worker import EXIT_CRASHED, CameraWorker, WorkerOptions
from streamer.source.state import StateChange


def worker_main(name: str, camera: CameraConfig, options: WorkerOptions, log_level: str, log_format: str, changes: Queue) -> None:
    """The supervisor asks for a stop with SIGTERM; Ctrl-C reaches the whole process group, and only the
    supervisor decides about it. No lock is shared with the supervisor, so killing this process wedges nothing."""
    stop = SignalStop()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, stop.set)
    setup_logging(log_level, log_format)

    def report(change: StateChange) -> None:
        changes.put(asdict(change))

    try:
        code = CameraWorker(name, camera, options, stop, on_state=report).run()
    except Exception:
        logging.getLogger("streamer.worker").exception("worker crashed", extra={"fields": {"camera": name}})
        code = EXIT_CRASHED
    changes.close()
    changes.join_thread()  # deliver the last state changes before the process ends
    sys.exit(code)
