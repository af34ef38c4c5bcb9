"""Entry point of a camera's worker process (spawned, so CUDA and threads start clean)."""

from __future__ import annotations

import logging
import signal
import sys
import time
from dataclasses import asdict
from multiprocessing.queues import Queue

from zoneinfo import ZoneInfo

from streamer.alerts.wiring import AlertTarget
from streamer.config.cameras import CameraConfig
from streamer.logs import setup_logging
from streamer.runtime.stop import SignalStop
from streamer.runtime.worker import EXIT_CAMERA_FAILED, EXIT_CRASHED, CameraWorker, WorkerOptions
from streamer.source.state import SourceState, StateChange


def _alert_sinks(name: str, camera: CameraConfig, options: WorkerOptions, target: AlertTarget | None) -> list:
    if target is None:
        return []
    from streamer.alerts.sink import AlertSink

    publisher = target.publisher(f"alerts-{name}")  # started even without rules: it delivers what an earlier run spooled
    return [AlertSink(name, camera, options.storage_dir, publisher, target.streams, ZoneInfo(options.timezone))]


def worker_main(name: str, camera: CameraConfig, options: WorkerOptions, log_level: str, log_format: str, changes: Queue,
                target: AlertTarget | None = None) -> None:
    """The supervisor asks for a stop with SIGTERM; Ctrl-C reaches the whole process group, and only the
    supervisor decides about it. No lock is shared with the supervisor, so killing this process wedges nothing."""
    stop = SignalStop()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, stop.set)
    setup_logging(log_level, log_format)

    def report(change: StateChange) -> None:
        changes.put(asdict(change))

    log = logging.getLogger("streamer.worker")
    try:
        sinks = _alert_sinks(name, camera, options, target)
    except Exception as error:  # a spool held by another process, a rule that cannot be built
        log.error("camera cannot start: %s", error, extra={"fields": {"camera": name}})
        report(StateChange(name, None, SourceState.FAILED, str(error), time.time()))
        code = EXIT_CAMERA_FAILED
    else:
        try:
            code = CameraWorker(name, camera, options, stop, on_state=report, sinks=sinks).run()
        except Exception:
            log.exception("worker crashed", extra={"fields": {"camera": name}})
            code = EXIT_CRASHED
    changes.close()
    changes.join_thread()  # deliver the last state changes before the process ends
    sys.exit(code)
