"""Child processes (camera workers, engines) stop when the supervisor that spawned them is gone, instead of
playing on as orphans that nobody reads, holding models and shared memory."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable


def stop_when_orphaned(stop: Callable[[], None], what: str, interval_s: float = 1.0) -> None:
    parent = os.getppid()
    log = logging.getLogger("streamer.supervisor")

    def watch() -> None:
        gone = threading.Event()
        while not gone.wait(interval_s):
            if os.getppid() != parent:
                log.warning("supervisor gone; %s stopping", what)
                stop()
                return

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
