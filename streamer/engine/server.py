"""The engine process: accepts camera workers on a Unix socket, gathers their frames fairly and answers each."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, Listener, wait
from pathlib import Path

from streamer import metrics
from streamer.config.engine import EngineConfig
from streamer.engine.batch import BoundUse, FrameJob, bind_uses, run_batch
from streamer.engine.batcher import FairBatcher, Waiting
from streamer.engine.errors import ModelLoadError
from streamer.engine.models import LoadedModel, ModelRegistry
from streamer.engine.protocol import Detected, Hello, Infer, Refused, Welcome
from streamer.engine.settings import LoadSettings
from streamer.engine.shm import SlotSegment
from streamer.engine.stats import EngineStats

log = logging.getLogger("streamer.engine")


@dataclass
class Client:
    conn: Connection
    camera: str = ""
    segment: SlotSegment | None = None
    uses: list[BoundUse] = field(default_factory=list)


class EngineServer:
    def __init__(
        self,
        address: str,
        authkey: bytes,
        settings: LoadSettings,
        config: EngineConfig,
        stats_interval_s: float,
        stop: threading.Event,
    ):
        self.address = address
        self.authkey = authkey
        self.registry = ModelRegistry(settings)
        self.batcher: FairBatcher[Infer] = FairBatcher(config.max_batch, config.max_wait_ms / 1000)
        self.stats = EngineStats(settings.device, stats_interval_s)
        self.stop = stop
        self.clients: dict[Connection, Client] = {}
        self._accepted: queue.SimpleQueue[Connection] = queue.SimpleQueue()

    def serve(self) -> None:
        if Path(self.address).exists():
            os.unlink(self.address)  # the socket of an engine that died
        listener = Listener(self.address, family="AF_UNIX", authkey=self.authkey)
        threading.Thread(target=self._accept, args=(listener,), name="engine-accept", daemon=True).start()
        log.info("engine ready", extra={"fields": {"device": self.registry.settings.device, "address": self.address}})
        try:
            while not self.stop.is_set():
                self._step()
        finally:
            listener.close()
            for client in list(self.clients.values()):
                self._drop(client)

    def _accept(self, listener: Listener) -> None:
        while not self.stop.is_set():
            try:
                self._accepted.put(listener.accept())
            except OSError:  # closed at stop
                return
            except Exception as error:  # a peer with the wrong key or one that hung up mid-handshake
                log.warning("engine refused a connection: %s", error)

    def _step(self) -> None:
        while not self._accepted.empty():
            conn = self._accepted.get()
            self.clients[conn] = Client(conn)
        left = self.batcher.time_left(time.monotonic())
        timeout = 0.05 if left is None else min(0.05, left)
        for conn in wait(list(self.clients), timeout=timeout):
            self._receive(self.clients[conn])  # type: ignore[index]
        now = time.monotonic()
        serving = [client.segment for client in self.clients.values() if client.segment is not None]
        if self.batcher.ready(now, sum(segment.slots for segment in serving)):
            self._run(self.batcher.take(), now)
        self.stats.maybe_log(len(self.batcher), len(serving))

    def _receive(self, client: Client) -> None:
        try:
            while client.conn.poll():
                message = client.conn.recv()
                if isinstance(message, Infer):
                    self.batcher.add(client.camera, message, time.monotonic())
                elif isinstance(message, Hello):
                    self._welcome(client, message)
        except (EOFError, OSError):
            self._drop(client)

    def _welcome(self, client: Client, hello: Hello) -> None:
        try:
            uses = bind_uses(hello.uses, self.registry)
            segment = SlotSegment.attach(hello.shm_name, hello.slot_bytes, hello.slots)
        except (ModelLoadError, FileNotFoundError) as error:
            log.error("camera refused: %s", error, extra={"fields": {"camera": hello.camera}})
            client.conn.send(Refused(str(error)))
            return
        client.camera, client.segment, client.uses = hello.camera, segment, uses
        client.conn.send(
            Welcome({u.name: dict(u.model.names) for u in uses}, {u.name: u.model.runner.name for u in uses})
        )
        log.info("camera connected", extra={"fields": {"camera": hello.camera, "models": len(uses)}})

    def _drop(self, client: Client) -> None:
        self.clients.pop(client.conn, None)
        lost = self.batcher.forget(client.camera) if client.camera else []
        self.stats.dropped += len(lost)
        if client.segment is not None:
            client.segment.close()
        client.conn.close()
        if client.camera:
            log.info("camera disconnected", extra={"fields": {"camera": client.camera, "frames_dropped": len(lost)}})

    def _observe_call(self, model: LoadedModel, seconds: float) -> None:
        metrics.ENGINE_INFERENCE.labels(self.stats.device, Path(model.key.weights).name, model.runner.name).observe(
            seconds
        )

    def _run(self, batch: list[Waiting[Infer]], now: float) -> None:
        by_camera = {client.camera: client for client in self.clients.values() if client.segment is not None}
        live = [waiting for waiting in batch if waiting.camera in by_camera]
        jobs = []
        for waiting in live:
            client = by_camera[waiting.camera]
            image = client.segment.view(waiting.item.slot, waiting.item.input_hw)  # type: ignore[union-attr]
            jobs.append(FrameJob(image, waiting.item.frame_hw, client.uses))
        started = time.perf_counter()
        try:
            results = run_batch(jobs, self._observe_call)
        except Exception:  # a runtime failing on one batch must not take the engine into a restart loop
            log.exception(
                "inference failed; the batch is answered with no detections",
                extra={"fields": {"frames": len(jobs), "cameras": ",".join(sorted({w.camera for w in live}))}},
            )
            self.stats.record_failed(len(jobs))
            results = [{use.name: None for use in job.uses} for job in jobs]
        self.stats.record_batch(
            len(jobs), (time.perf_counter() - started) * 1000, [(now - waiting.arrived) * 1000 for waiting in live]
        )
        for waiting, boxes in zip(live, results):
            client = by_camera[waiting.camera]
            reply = Detected(waiting.item.seq, boxes, (now - waiting.arrived) * 1000, len(jobs))
            try:
                client.conn.send(reply)
            except OSError:
                self._drop(client)
