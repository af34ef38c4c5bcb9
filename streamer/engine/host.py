"""The supervisor's side of the engine: one engine process per device for the cameras that use it, restarted
when it dies; the cameras' shared-memory slots, made before any process starts and unlinked at the end."""

from __future__ import annotations

import enum
import logging
import multiprocessing as mp
import secrets
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from streamer.config.cameras import CameraConfig
from streamer.config.engine import EngineConfig
from streamer.core.backoff import Backoff
from streamer.core.health import HealthChange, HealthListener
from streamer.core.lifecycle import Transitions
from streamer.core.process_slot import ProcessSlot, stop_processes
from streamer.engine.calibration import calibration_sources
from streamer.engine.entry import engine_main
from streamer.engine.geometry import camera_geometry
from streamer.engine.protocol import EngineLink
from streamer.engine.settings import LoadSettings
from streamer.engine.shm import SlotSegment, sweep_orphans

log = logging.getLogger("streamer.supervisor")


def resolve_device(requested: str) -> str:
    """`auto` without importing torch in the supervisor: CUDA when the NVIDIA driver lists a GPU, else the CPU.
    The engine checks CUDA itself and falls back to the CPU, saying so."""
    if requested != "auto":
        return f"cuda:{requested}" if requested.isdigit() else ("cuda:0" if requested == "cuda" else requested)
    gpus = Path("/proc/driver/nvidia/gpus")
    return "cuda:0" if gpus.is_dir() and any(gpus.iterdir()) else "cpu"


def device_settings(
    cameras: Mapping[str, CameraConfig], config: EngineConfig, models_dir: Path, storage_dir: Path | None = None
) -> dict[str, LoadSettings]:
    """Per device, how its engine loads models: exports take the largest input of its cameras (they are dynamic
    below it) and the engine's batch; int8 calibrates on the site's own video."""
    largest: dict[str, tuple[int, int]] = {}
    for camera in cameras.values():
        height, width = camera_geometry(camera).largest
        device = resolve_device(camera.detect.device)
        previous = largest.get(device, (0, 0))
        largest[device] = (max(previous[0], height), max(previous[1], width))
    calibration = calibration_sources(cameras, storage_dir, config.calibration, models_dir)
    return {
        device: LoadSettings(device, models_dir / "cache", config.max_batch, imgsz, config.threads, calibration)
        for device, imgsz in largest.items()
    }


class EnginePhase(str, enum.Enum):
    STARTING = "starting"
    RUNNING = "running"
    WAITING_RESTART = "waiting_restart"
    STOPPED = "stopped"


ENGINE_TRANSITIONS: Transitions[EnginePhase] = Transitions(
    "engine",
    {
        EnginePhase.STARTING: {EnginePhase.RUNNING, EnginePhase.STOPPED},
        EnginePhase.RUNNING: {EnginePhase.WAITING_RESTART, EnginePhase.STOPPED},
        EnginePhase.WAITING_RESTART: {EnginePhase.RUNNING, EnginePhase.STOPPED},
        EnginePhase.STOPPED: {EnginePhase.STOPPED},  # stop() may be called again
    },
)


@dataclass
class EngineSlot(ProcessSlot):
    TRANSITIONS: ClassVar[Transitions] = ENGINE_TRANSITIONS

    device: str
    address: str
    settings: LoadSettings
    phase: EnginePhase = field(default=EnginePhase.STARTING, kw_only=True)
    backoff: Backoff = field(default_factory=lambda: Backoff(0.5, 10.0), kw_only=True)

    @property
    def label(self) -> str:
        return self.device


class EngineHost:
    def __init__(
        self,
        cameras: Mapping[str, CameraConfig],
        config: EngineConfig,
        models_dir: Path,
        logging_args: tuple[str, str],
        stats_interval_s: float,
        on_health: HealthListener | None = None,
        storage_dir: Path | None = None,
    ):
        self.config = config
        self.logging_args = logging_args
        self.stats_interval_s = stats_interval_s
        self.on_health = on_health
        self._ctx = mp.get_context("spawn")
        self._authkey = secrets.token_bytes(16)
        self._runtime = Path(tempfile.mkdtemp(prefix="streamer-engine-"))
        swept = sweep_orphans()
        if swept:
            log.info("removed shared memory left by a killed run", extra={"fields": {"segments": len(swept)}})
        self.segments = {
            name: SlotSegment.create(name, camera_geometry(camera).max_bytes, config.inflight_per_camera)
            for name, camera in cameras.items()
        }
        self.device_of = {name: resolve_device(camera.detect.device) for name, camera in cameras.items()}
        self.engines = {
            device: EngineSlot(device, str(self._runtime / f"engine-{device.replace(':', '-')}.sock"), settings)
            for device, settings in device_settings(cameras, config, models_dir, storage_dir).items()
        }

    def add_camera(self, name: str, camera: CameraConfig) -> bool:
        """A camera added (or changed) by a config reload: its shared frames, sized for it. False when its device has
        no engine running (that needs a restart); its models load when its worker first asks for them."""
        device = resolve_device(camera.detect.device)
        if device not in self.engines:
            return False
        needed = camera_geometry(camera).max_bytes
        segment = self.segments.get(name)
        if segment is None or segment.slot_bytes < needed:
            if segment is not None:
                segment.close()
            self.segments[name] = SlotSegment.create(name, needed, self.config.inflight_per_camera)
        self.device_of[name] = device
        return True

    def link(self, camera: str) -> EngineLink:
        segment = self.segments[camera]
        engine = self.engines[self.device_of[camera]]
        return EngineLink(engine.address, self._authkey, segment.name, segment.slot_bytes, segment.slots)

    def start(self) -> None:
        for engine in self.engines.values():
            self._start(engine)

    def _start(self, engine: EngineSlot) -> None:
        level, fmt = self.logging_args
        engine.process = self._ctx.Process(
            target=engine_main,
            name=f"streamer-engine-{engine.device}",
            args=(engine.address, self._authkey, engine.settings, self.config, self.stats_interval_s, level, fmt),
            daemon=False,
        )
        engine.process.start()
        engine.move(EnginePhase.RUNNING)
        log.info("engine started", extra={"fields": {"device": engine.device, "pid": engine.process.pid}})
        self._health(engine, "started", f"pid {engine.process.pid}")

    def check(self) -> None:
        """Restart a dead engine; its cameras wait for it (they reconnect on their own)."""
        now = time.monotonic()
        for engine in self.engines.values():
            if engine.phase is EnginePhase.WAITING_RESTART and now >= engine.restart_at:
                engine.restarts += 1
                self._start(engine)
            elif engine.phase is EnginePhase.RUNNING and engine.died():
                engine.move(EnginePhase.WAITING_RESTART)
                delay = engine.plan_restart(now)
                code = engine.process.exitcode
                log.error(
                    "engine died; restarting",
                    extra={"fields": {"device": engine.device, "exit_code": code, "restart_in_s": round(delay, 1)}},
                )
                self._health(engine, "crashed", f"exit code {code}; restarting in {delay:.1f} s")

    def stop(self, grace_s: float = 5.0) -> None:
        """After the workers: they may still wait on an answer. Then the slots go, then the socket folder."""
        stop_processes([e.process for e in self.engines.values() if e.process is not None], grace_s)
        for engine in self.engines.values():
            engine.move(EnginePhase.STOPPED)
        for segment in self.segments.values():
            segment.close()
        shutil.rmtree(self._runtime, ignore_errors=True)

    def _health(self, engine: EngineSlot, state: str, reason: str) -> None:
        if self.on_health is not None:
            self.on_health(HealthChange(f"engine:{engine.device}", "engine", state, reason))

    @property
    def pids(self) -> list[int]:
        return [e.process.pid for e in self.engines.values() if e.process is not None and e.process.pid]


__all__ = ["EngineHost", "resolve_device"]
