"""The camera's live view for the console: at most every `every_s`, the latest tracked frame drawn (boxes, track ids,
zones) and written as `<storage_dir>/live/<camera>.jpg`, and with each stats line the camera's figures as
`live/<camera>.json`. Both are replaced atomically (written aside, then renamed), so a reader never sees half a
file; the cost is one JPEG encode a second (a few ms), off nothing the detector waits on."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import cv2

from streamer.annotate import annotate
from streamer.config.cameras import ZoneConfig
from streamer.core.timefmt import iso_time
from streamer.frame import TrackedFrame
from streamer.storage import live_relpath

log = logging.getLogger("streamer.worker")
JPEG_QUALITY = 75


class LiveView:
    def __init__(
        self,
        storage_dir: Path,
        camera: str,
        zones: dict[str, ZoneConfig],
        every_s: float,
        relay: Callable[[str, bytes], None] | None = None,
    ):
        self.camera = camera
        self.relay = relay  # on a site: also to the shared Redis (live_relay.py), for a console on another host
        self.zones = zones
        self.every_s = every_s
        self.picture = storage_dir / live_relpath(camera, ".jpg")
        self.figures = storage_dir / live_relpath(camera, ".json")
        self.picture.parent.mkdir(parents=True, exist_ok=True)
        self._next = 0.0
        self._failed = False

    def __call__(self, tracked: TrackedFrame) -> None:
        now = time.monotonic()
        if self.every_s <= 0 or now < self._next:
            return
        self._next = now + self.every_s
        ok, encoded = cv2.imencode(".jpg", annotate(tracked, self.zones), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if ok:
            self._replace(self.picture, encoded.tobytes())
            if self.relay is not None:
                self.relay("jpg", encoded.tobytes())

    def reconfigure(self, camera) -> None:
        """A reload changed the zones drawn on the picture."""
        self.zones = dict(camera.zones)

    def write_figures(self, fields: dict) -> None:
        """The stats line's fields, with when they were taken and when the picture was last drawn."""
        now = time.time()
        doc = {**fields, "ts": now, "iso": iso_time(now), "picture_every_s": self.every_s}
        data = json.dumps(doc, default=str).encode()
        self._replace(self.figures, data)
        if self.relay is not None:
            self.relay("json", data)

    def _replace(self, target: Path, data: bytes) -> None:
        aside = target.with_name(f".{target.name}.{os.getpid()}")
        try:
            aside.write_bytes(data)
            os.replace(aside, target)
            self._failed = False
        except OSError as error:  # a full disk must not stop the camera; said once, not every second
            if not self._failed:
                log.warning("live view not written: %s", error, extra={"fields": {"camera": self.camera}})
            self._failed = True

    def close(self) -> None:
        """Nothing held open: the last picture and figures stay for the console to show."""
