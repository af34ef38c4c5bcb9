"""The engine's figures, logged every interval: batches, batch sizes, inference ms, queue wait, drops."""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import dataclass, field

from streamer import metrics

log = logging.getLogger("streamer.engine")


@dataclass
class EngineStats:
    device: str
    interval_s: float
    dropped: int = 0  # frames of cameras that went away before their answer
    failed: int = 0  # frames whose batch the runtime failed on (answered with no detections)
    frames_total: int = 0
    _sizes: list[int] = field(default_factory=list)
    _infer_ms: list[float] = field(default_factory=list)
    _wait_ms: list[float] = field(default_factory=list)
    _last: float = field(default_factory=time.monotonic)

    def record_batch(self, size: int, infer_ms: float, wait_ms: list[float]) -> None:
        """For the stats line, and at once for Prometheus."""
        self._sizes.append(size)
        self._infer_ms.append(infer_ms)
        self._wait_ms.extend(wait_ms)
        self.frames_total += size
        if size:
            metrics.ENGINE_BATCH_SIZE.labels(self.device).observe(size)
        queue_wait = metrics.ENGINE_QUEUE_WAIT.labels(self.device)
        for waited in wait_ms:
            queue_wait.observe(waited / 1000)

    def record_failed(self, frames: int) -> None:
        self.failed += frames
        metrics.ENGINE_FRAMES_FAILED.labels(self.device).inc(frames)

    def maybe_log(self, queued: int, cameras: int) -> None:
        now = time.monotonic()
        if now - self._last < self.interval_s:
            return
        frames = sum(self._sizes)
        fields: dict[str, object] = {
            "device": self.device,
            "cameras": cameras,
            "batches": len(self._sizes),
            "frames": frames,
            "fps": frames / (now - self._last),
            "queued": queued,
            "dropped": self.dropped,
            "failed": self.failed,
        }
        if self._sizes:
            fields.update(
                {
                    "batch_mean": frames / len(self._sizes),
                    "batch_max": max(self._sizes),
                    "infer_ms_batch": statistics.median(self._infer_ms),
                    "infer_ms_frame": sum(self._infer_ms) / frames,
                    "wait_ms_median": statistics.median(self._wait_ms),
                    "wait_ms_max": max(self._wait_ms),
                }
            )
        log.info("engine stats", extra={"fields": fields})
        self._sizes, self._infer_ms, self._wait_ms, self._last = [], [], [], now
