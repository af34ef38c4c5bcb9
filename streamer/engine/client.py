"""The worker's side of the shared engine: letterbox into a free shared-memory slot, send the slot's number, read
the answers in order. When the engine dies the frames it held are dropped and counted (live) or sent again once it
is back (files: nothing is lost); tracking state stays in the worker, so track ids go on."""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Client, Connection
from pathlib import Path

from streamer.config.cameras import CameraConfig
from streamer.engine.errors import ModelLoadError
from streamer.engine.geometry import camera_geometry
from streamer.engine.protocol import Detected, EngineLink, Hello, Infer, Refused, Welcome
from streamer.engine.shm import SlotSegment
from streamer.engine.stage import DetectedFrame, detected_frame, model_uses
from streamer.frame import Frame

log = logging.getLogger("streamer.worker")

RECONNECT_S = 0.2


@dataclass(frozen=True)
class _InFlight:
    frame: Frame
    request: Infer
    handed: float  # perf_counter when it was sent


class RemoteDetection:
    def __init__(self, name: str, camera: CameraConfig, models_dir: Path, link: EngineLink, stop, live: bool):
        self.name = name
        self.camera = camera
        self.models_dir = models_dir
        self.link = link
        self.stop = stop
        self.live = live
        self.geometry = camera_geometry(camera)
        self.segment = SlotSegment.attach(link.shm_name, link.slot_bytes, link.slots)
        self._conn: Connection | None = None
        self._names: dict[str, dict[int, str]] = {}
        self._flying: deque[_InFlight] = deque()
        self._seq = 0
        self.dropped = 0
        self.engine_restarts = 0

    @property
    def inflight(self) -> int:
        return len(self._flying)

    def start(self) -> None:
        self._connect()

    def free(self) -> int:
        return 0 if self._conn is None else self.link.slots - len(self._flying)

    def submit(self, frame: Frame) -> None:
        used = {flying.request.slot for flying in self._flying}
        slot = next(s for s in range(self.link.slots) if s not in used)
        image = self.geometry.letterbox(frame.image)
        self.segment.view(slot, image.shape[:2])[:] = image
        self._seq += 1
        request = Infer(self._seq, slot, image.shape[:2], (frame.height, frame.width))
        self._flying.append(_InFlight(frame, request, time.perf_counter()))
        self._send(request)

    def collect(self, timeout: float) -> list[DetectedFrame]:
        done: list[DetectedFrame] = []
        if self._conn is None:
            self._recover()
            return done
        try:
            if not self._flying or not self._conn.poll(timeout):
                return done
            while self._flying and self._conn.poll():
                reply = self._conn.recv()
                if isinstance(reply, Detected):
                    self._answer(reply, done)
        except (EOFError, OSError):
            self._lose()
        return done

    def _answer(self, reply: Detected, done: list[DetectedFrame]) -> None:
        if not self._flying or self._flying[0].request.seq != reply.seq:
            return  # an answer for a frame given up when the engine was lost
        flying = self._flying.popleft()
        done.append(
            detected_frame(flying.frame, reply.boxes, self._names, (time.perf_counter() - flying.handed) * 1000)
        )

    def _send(self, request: Infer) -> None:
        try:
            assert self._conn is not None
            self._conn.send(request)
        except (OSError, AssertionError):
            self._lose()

    def _lose(self) -> None:
        """The engine process died: the live frames it held are stale and counted as dropped; a file keeps its
        frames (they are still in their slots) and asks again once the engine is back."""
        if self._conn is None:
            return
        self._conn.close()
        self._conn = None
        self.engine_restarts += 1
        lost = len(self._flying) if self.live else 0
        if self.live:
            self.dropped += lost
            self._flying.clear()
        log.warning(
            "inference engine lost; waiting for it", extra={"fields": {"camera": self.name, "frames_dropped": lost}}
        )

    def _recover(self) -> None:
        self._connect()
        for flying in list(self._flying):
            if self._conn is None:
                return
            self._send(flying.request)

    def _connect(self) -> None:
        """Wait for the engine (it may be starting, loading or exporting models) until it answers or we stop."""
        while not self.stop.is_set():
            try:
                conn = Client(self.link.address, family="AF_UNIX", authkey=self.link.authkey)
            except (OSError, EOFError):
                self.stop.wait(RECONNECT_S)
                continue
            try:
                reply = self._hello(conn)
            except (OSError, EOFError):
                conn.close()
                self.stop.wait(RECONNECT_S)
                continue
            if isinstance(reply, Refused):
                conn.close()
                raise ModelLoadError(reply.reason)
            if reply is None:
                conn.close()
                return
            self._names, self._conn = reply.names, conn
            log.info(
                "engine connected",
                extra={
                    "fields": {
                        "camera": self.name,
                        **{f"backend{('_' + k) if k else ''}": v for k, v in reply.backends.items()},
                    }
                },
            )
            return

    def _hello(self, conn: Connection) -> Welcome | Refused | None:
        conn.send(
            Hello(
                self.name,
                self.link.shm_name,
                self.link.slot_bytes,
                self.link.slots,
                model_uses(self.camera, self.models_dir),
            )
        )
        while not conn.poll(0.2):  # the engine may be exporting models: minutes, on a first run
            if self.stop.is_set():
                return None
        return conn.recv()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self.segment.close()
