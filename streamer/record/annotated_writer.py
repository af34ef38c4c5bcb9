"""`--save-annotated`: an MP4 per camera with boxes, labels and track ids drawn by supervision; a frame sink of
the camera's worker (streamer/events/sinks.py)."""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from streamer.annotate import annotate
from streamer.config.cameras import ZoneConfig
from streamer.frame import TrackedFrame

log = logging.getLogger("streamer.worker")
_TIME_BASE = Fraction(1, 1000)  # millisecond PTS keep the source's variable frame timing


class AnnotatedVideoWriter:
    def __init__(self, path: Path, zones: dict[str, ZoneConfig], rate_hint: float, camera: str = ""):
        self.path = path
        self.camera = camera
        self.zones = zones
        self.rate_hint = rate_hint
        self.frames_written = 0
        self._container: av.container.OutputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None
        self._first_pts_s: float | None = None
        self._last_pts = -1

    def __call__(self, tracked: TrackedFrame) -> None:
        self.write(tracked)

    def write(self, tracked: TrackedFrame) -> None:
        image = annotate(tracked, self.zones)
        height, width = (image.shape[0] // 2) * 2, (image.shape[1] // 2) * 2  # yuv420p needs even sizes
        image = np.ascontiguousarray(image[:height, :width])
        if self._container is None:
            self._open(width, height, tracked.frame.pts_s)
        pts = round((tracked.frame.pts_s - self._first_pts_s) / _TIME_BASE)
        pts = max(pts, self._last_pts + 1)  # a loop or a PTS jump must not make the muxer refuse the frame
        self._last_pts = pts
        video_frame = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
        video_frame.pts, video_frame.time_base = pts, _TIME_BASE
        for packet in self._stream.encode(video_frame):
            self._container.mux(packet)
        self.frames_written += 1

    def _open(self, width: int, height: int, first_pts_s: float) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(self.path), mode="w")
        stream = self._container.add_stream("libx264", rate=Fraction(self.rate_hint).limit_denominator(1000))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = _TIME_BASE
        stream.codec_context.time_base = _TIME_BASE
        stream.options = {"preset": "veryfast", "crf": "26"}
        self._stream = stream
        self._first_pts_s = first_pts_s

    def close(self) -> None:
        fields = {"camera": self.camera, "path": str(self.path)}
        if self._container is None:  # no file exists when no frame came
            log.warning("no annotated video: no frame was detected", extra={"fields": fields})
            return
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        self._container = None
        log.info("annotated video written", extra={"fields": {**fields, "frames": self.frames_written}})
