"""The engine process's entry point, light to import: the supervisor names it as the spawn target without
loading torch or any runtime itself."""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import replace

from streamer.config.engine import EngineConfig
from streamer.engine.settings import LoadSettings
from streamer.parent import stop_when_orphaned

log = logging.getLogger("streamer.engine")


def engine_main(
    address: str,
    authkey: bytes,
    settings: LoadSettings,
    config: EngineConfig,
    stats_interval_s: float,
    log_level: str,
    log_format: str,
) -> None:
    """Spawned by the supervisor. SIGTERM stops it; it also stops when the supervisor is gone (no orphan engine
    keeps the models in memory)."""
    from streamer.logs import setup_logging

    setup_logging(log_level, log_format)
    stop = threading.Event()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the supervisor decides
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop_when_orphaned(stop.set, "engine")
    import torch

    from streamer.engine.server import EngineServer

    torch.set_num_threads(1)  # NMS and box scaling are small; the inference runtime owns the cores
    if settings.device.startswith("cuda"):
        if not torch.cuda.is_available():
            log.warning(
                "CUDA is not usable here; the engine runs on the CPU", extra={"fields": {"device": settings.device}}
            )
            settings = replace(settings, device="cpu")
    EngineServer(address, authkey, settings, config, stats_interval_s, stop).serve()
