"""`streamer run`: one worker process per camera, restarted with backoff when it crashes, stopped on a signal.

On a site of many hosts (`site`), the cameras are the ones this host holds the lease of, and they change while it
runs: a camera it takes over starts, one it hands over (or loses) stops, and its worker writes under that lease.

With a `watcher` (runtime/reload.py) the config is read again when it changes: a camera added starts, one removed
(or switched off) stops, one whose zones, rules or motion masks changed takes them in place (runtime/control.py),
one whose other settings changed restarts alone; the others are not touched. Sections a running service cannot
change (Redis, storage, the engine…) are said to need a restart and keep their values."""

from __future__ import annotations

import logging
import multiprocessing as mp
import queue
import signal
import time
from collections.abc import Callable
from dataclasses import replace

from streamer import metrics
from streamer.alerts.health import HealthReporter
from streamer.alerts.wiring import AlertTarget
from streamer.config.diff import config_changes, remember_running
from streamer.config.loader import ConfigError
from streamer.config.root import StreamerConfig
from streamer.core.health import HealthChange
from streamer.core.process_slot import stop_processes
from streamer.engine.host import EngineHost
from streamer.runtime.camera_health import CameraHealth
from streamer.runtime.control import Reconfigure
from streamer.runtime.host_parts import engine_host_for, retention_loop, uploader_for
from streamer.runtime.options import EXIT_CAMERA_FAILED, EXIT_OK, WorkerOptions
from streamer.runtime.process import worker_main
from streamer.runtime.reload import ConfigWatcher
from streamer.runtime.site_link import SiteLink
from streamer.runtime.slots import WorkerPhase, WorkerSlot
from streamer.site.leases import lease_key
from streamer.source.state import SourceState

log = logging.getLogger("streamer.supervisor")

STOP_GRACE_S = 8.0  # SIGTERM, then SIGKILL after this: the whole stop stays under 10 s
HEALTHY_RUN_S = 60.0


class Supervisor:
    def __init__(
        self,
        config: StreamerConfig,
        options: WorkerOptions,
        cameras: list[str] | None = None,
        target: AlertTarget | None = None,
        health: HealthReporter | None = None,
        camera_health: CameraHealth | None = None,
        site: SiteLink | None = None,
        watcher: ConfigWatcher | None = None,
        on_reloaded: Callable[[StreamerConfig], None] | None = None,
        only: set[str] | None = None,
    ):
        self.config = config
        self.watcher = watcher
        self.on_reloaded = on_reloaded  # the API in this process: its camera list follows
        self.selected = only  # --camera: a reload touches only these
        self._restart_after_stop: set[str] = set()
        self.options = options
        self.target = target
        self.health = health
        self.camera_health = camera_health
        self.site = site
        self.camera_names = cameras or list(config.enabled_cameras())
        self._ctx = mp.get_context("spawn")
        # on a site the slots follow the leases; alone, every camera has one from the start
        self.slots = {} if site is not None else {name: WorkerSlot(name) for name in self.camera_names}
        self.engine: EngineHost | None = None
        self._stop_requested = False  # set by the signal handler: a plain flag is the only thing safe to set there

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        if self.watcher is not None:
            previous[signal.SIGHUP] = self.watcher.install_sighup()
            remember_running(self.options.storage_dir, self.watcher.read)  # what `validate-config` compares a file with
        retention = retention_loop(self.config, self.options)
        retention.start()
        uploader = uploader_for(self.config, self.options, self._take_health)
        if uploader is not None:
            uploader.start()
        try:
            self.engine = engine_host_for(self.config, self.options, self.camera_names, self._take_health)
            if self.engine is not None:
                self.engine.start()  # first: it loads the models while the workers open their sources
            if self.site is not None:
                self.site.start()
            for slot in self.slots.values():
                self._start(slot)
            while not self._stop_requested and (self.site is not None or not self._all_done()):
                self._drain_changes()
                if self.watcher is not None:
                    self._reload_if_due()
                if self.site is not None:
                    self._follow_site()
                else:
                    self._finish_stops()
                self._check_workers()
                if self.camera_health is not None:
                    self.camera_health.check()
                if self.engine is not None:
                    self.engine.check()
                time.sleep(0.2)
        finally:
            if self.site is not None:
                self.site.leave()  # the others work out their shares while this host's workers stop
            self._shutdown()
            if self.site is not None:
                self.site.stop()
            if self.engine is not None:
                self.engine.stop()
            retention.stop()
            if uploader is not None:
                uploader.stop()  # after the workers: their last segments and clips go too
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self._summary()

    def _on_signal(self, signum: int, _frame: object) -> None:
        self._stop_requested = True
        log.info("stopping: %s received", signal.Signals(signum).name)

    def _start(self, slot: WorkerSlot) -> None:
        camera = self.config.cameras[slot.camera]
        logging_cfg = self.config.logging
        slot.changes = self._ctx.Queue()
        slot.controls = self._ctx.Queue()
        slot.controls.cancel_join_thread()  # a worker gone before reading must not hold up the supervisor's exit
        target = self.target
        if slot.fence is not None and target is not None:  # its writes are refused once the lease is another's
            target = replace(target, fence=(lease_key(target.config.prefix, slot.camera), slot.fence))
        slot.process = self._ctx.Process(
            target=worker_main,
            name=f"streamer-{slot.camera}",
            args=(
                slot.camera,
                camera,
                self.options,
                logging_cfg.level,
                logging_cfg.format,
                slot.changes,
                target,
                self.engine.link(slot.camera) if self.engine is not None else None,
                slot.controls,
            ),
            daemon=False,
        )
        slot.process.start()
        slot.move(WorkerPhase.RUNNING)
        slot.started_at = time.monotonic()
        log.info(
            "worker started", extra={"fields": {"camera": slot.camera, "pid": slot.process.pid, "url": camera.safe_url}}
        )
        self._health(slot.camera, "worker", "started", pid=slot.process.pid)

    def _follow_site(self) -> None:
        """Start the cameras this host now holds, stop the ones it gave up or lost, and restart one whose lease
        was taken again under a new value (its writes must carry the new one)."""
        running = self.site.running()
        now = time.monotonic()
        for camera, value in running.items():
            slot = self.slots.get(camera)
            if slot is None:
                self.slots[camera] = slot = WorkerSlot(camera, fence=value)
                self._start(slot)
            elif slot.fence != value and slot.phase is not WorkerPhase.STOPPING:
                self._stop_slot(slot, now, "its lease was taken again")
        for slot in list(self.slots.values()):
            if slot.camera not in running and slot.phase is not WorkerPhase.STOPPING:
                self._stop_slot(slot, now, "handed over to another host")
            if slot.phase is WorkerPhase.STOPPING:
                self._finish_stop(slot, now)
        self.site.service()

    def _reload_if_due(self) -> None:
        why = self.watcher.due()
        if why is None:
            return
        try:
            loaded = self.watcher.load()
        except ConfigError as error:
            log.error("config reload refused (%s); the running config stays:\n%s", why, error)
            self._health("config", "config", "refused", str(error)[:2000])
            return
        changes = config_changes(self.config, loaded)
        if self.selected is not None:  # --camera: the others are not this run's
            changes = replace(
                changes,
                added=tuple(c for c in changes.added if c in self.selected),
                changed=tuple(c for c in changes.changed if c.camera in self.selected),
            )
        log.info(
            "config reloaded (%s): %s",
            why,
            "; ".join(changes.lines()),
            extra={
                "fields": {
                    "added": changes.added,
                    "removed": changes.removed,
                    "changed": [c.camera for c in changes.changed],
                    "restart_needed": changes.restart_needed,
                }
            },
        )
        # the other sections: at restart
        self.config = self.config.model_copy(update={"cameras": loaded.cameras, "integrations": loaded.integrations})
        self._apply(changes)
        remember_running(self.options.storage_dir, self.watcher.read)
        self._health("config", "config", "reloaded", "; ".join(changes.lines()))
        if self.on_reloaded is not None:
            self.on_reloaded(self.config)

    def _apply(self, changes) -> None:
        now = time.monotonic()
        for name in changes.added:
            if self.engine is not None and not self.engine.add_camera(name, self.config.cameras[name]):
                log.warning(
                    "camera added, but it needs a restart: its device has no engine running",
                    extra={"fields": {"camera": name}},
                )
                continue
            if self.site is None:
                self.slots[name] = WorkerSlot(name)
                self._start(self.slots[name])
        for name in changes.removed:
            self._restart_after_stop.discard(name)
            if name in self.slots:
                self._stop_slot(self.slots[name], now, "removed from the config")
        for change in changes.changed:
            slot = self.slots.get(change.camera)
            if (
                slot is not None
                and change.in_place
                and slot.tell(Reconfigure(self.config.cameras[change.camera], change.keys))
            ):
                continue  # its zones, rules or masks: taken by the running worker, no frame lost
            if slot is not None:  # on a site, a camera another host runs: that host restarts it
                if self.engine is not None:
                    self.engine.add_camera(change.camera, self.config.cameras[change.camera])
                self._restart_after_stop.add(change.camera)
                self._stop_slot(slot, now, f"its settings changed: {', '.join(change.keys)}")
        if self.site is not None:
            self.site.set_cameras(self.config.enabled_cameras())
        self.camera_names = [n for n in self.config.enabled_cameras() if self.selected is None or n in self.selected]

    def _finish_stops(self) -> None:
        now = time.monotonic()
        for slot in list(self.slots.values()):
            if slot.phase is WorkerPhase.STOPPING:
                self._finish_stop(slot, now)

    def _stop_slot(self, slot: WorkerSlot, now: float, why: str) -> None:
        slot.move(WorkerPhase.STOPPING)
        slot.stop_deadline, slot.reason = now + STOP_GRACE_S, why
        if slot.alive():
            slot.tell_stop(f"the camera was stopped: {why}")
            slot.process.terminate()  # it ends its open events (saying why) and closes its recording
        log.info("camera stopping here", extra={"fields": {"camera": slot.camera, "reason": why}})

    def _finish_stop(self, slot: WorkerSlot, now: float) -> None:
        alive = slot.alive()
        if alive and now < slot.stop_deadline:
            return
        if alive:
            log.warning("worker did not stop in time; killing it", extra={"fields": {"camera": slot.camera}})
            slot.process.kill()
            slot.process.join(1.0)
        self._drain_changes()
        metrics.process_gone(slot.process.pid if slot.process is not None else None)
        del self.slots[slot.camera]
        if self.site is not None:
            self.site.stopped(slot.camera)
        self._health(slot.camera, "worker", "stopped", slot.reason)
        if slot.camera in self._restart_after_stop:
            self._restart_after_stop.discard(slot.camera)
            if self.site is None:  # on a site, _follow_site starts it again under its lease
                self.slots[slot.camera] = WorkerSlot(slot.camera)
                self._start(self.slots[slot.camera])

    def _check_workers(self) -> None:
        now = time.monotonic()
        for slot in self.slots.values():
            if slot.phase is WorkerPhase.WAITING_RESTART and now >= slot.restart_at:
                slot.restarts += 1
                metrics.WORKER_RESTARTS.labels(slot.camera).inc()
                self._start(slot)
            elif slot.phase is WorkerPhase.RUNNING and slot.died():
                self._on_exit(slot, slot.process.exitcode, now)

    def _on_exit(self, slot: WorkerSlot, code: int | None, now: float) -> None:
        self._drain_changes()
        metrics.process_gone(slot.process.pid if slot.process is not None else None)
        fields = {"camera": slot.camera, "exit_code": code}
        if code == EXIT_OK:
            slot.move(WorkerPhase.FINISHED)
            log.info("worker finished", extra={"fields": {**fields, "reason": slot.reason}})
            self._health(slot.camera, "worker", "finished", slot.reason)
        elif code == EXIT_CAMERA_FAILED:
            slot.move(WorkerPhase.FAILED)
            log.error("camera failed: %s", slot.reason, extra={"fields": fields})
            self._health(slot.camera, "worker", "failed", slot.reason)
        else:
            slot.move(WorkerPhase.WAITING_RESTART)
            delay = slot.plan_restart(now, HEALTHY_RUN_S)
            log.error("worker crashed; restarting", extra={"fields": {**fields, "restart_in_s": round(delay, 1)}})
            self._health(slot.camera, "worker", "crashed", f"exit code {code}; restarting in {delay:.1f} s")

    def _drain_changes(self) -> None:
        for slot in self.slots.values():
            while slot.changes is not None:
                try:
                    change = slot.changes.get_nowait()
                except (queue.Empty, OSError, ValueError, EOFError):
                    break
                if change.state is SourceState.RECONNECTING and slot.source_state != change.state.value:
                    metrics.CAMERA_RECONNECTS.labels(slot.camera).inc()
                slot.source_state, slot.reason = change.state.value, change.reason
                metrics.set_source_state(slot.camera, slot.source_state)
                self._health(slot.camera, "source", slot.source_state, slot.reason)
                if self.camera_health is not None:
                    self.camera_health.source(slot.camera, slot.source_state, slot.reason, change.ts)

    def _health(self, camera: str, component: str, state: str, reason: str = "", pid: int | None = None) -> None:
        self._take_health(HealthChange(camera, component, state, reason, pid))

    def _take_health(self, change: HealthChange) -> None:
        if self.health is not None:
            self.health.take(change)

    def _all_done(self) -> bool:
        return all(slot.phase in (WorkerPhase.FINISHED, WorkerPhase.FAILED) for slot in self.slots.values())

    def _shutdown(self) -> None:
        """SIGTERM asks each worker to stop (it finishes its frame and closes its outputs); SIGKILL after the grace."""
        for slot in self.slots.values():
            if slot.alive():
                slot.tell_stop("the service is stopping")
        live = stop_processes(
            [slot.process for slot in self.slots.values() if slot.process is not None],
            STOP_GRACE_S,
            lambda process: log.warning(
                "worker did not stop in time; killing it", extra={"fields": {"pid": process.pid}}
            ),
        )
        self._drain_changes()
        for process in live:
            metrics.process_gone(process.pid)
        for slot in self.slots.values():
            if slot.phase in (WorkerPhase.RUNNING, WorkerPhase.WAITING_RESTART):
                code = slot.process.exitcode if slot.process is not None else None
                slot.move(WorkerPhase.FAILED if code == EXIT_CAMERA_FAILED else WorkerPhase.FINISHED)
                # the last word on the health stream, before it is flushed and the embedded Redis stopped
                self._health(
                    slot.camera,
                    "worker",
                    "stopped" if code == EXIT_OK else slot.phase.value,
                    f"stop requested (exit code {code})",
                )

    def _summary(self) -> int:
        for slot in self.slots.values():
            log.info(
                "camera summary",
                extra={
                    "fields": {
                        "camera": slot.camera,
                        "outcome": slot.phase.value,
                        "state": slot.source_state,
                        "restarts": slot.restarts,
                        "reason": slot.reason,
                    }
                },
            )
        return 1 if any(slot.phase is WorkerPhase.FAILED for slot in self.slots.values()) else 0
