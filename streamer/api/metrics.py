"""`GET /metrics` for Prometheus (admins, or an admin's API token, once users exist): the values every process of
`streamer run` wrote to `<storage_dir>/metrics` (prometheus-client's multiprocess files; see streamer/metrics.py),
merged at scrape time, plus what only the stores know, read now: seconds since each camera's last frame, the
spool's waiting messages, the VLM queue, and storage against its budget."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import redis
from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from streamer import metrics
from streamer.alerts.redis_access import connect as redis_connect
from streamer.alerts.spool import backlogs
from streamer.api.security import admin_only
from streamer.api.system import storage_figures
from streamer.auth.users import User

router = APIRouter()
READ_AT_SCRAPE = (
    "streamer_camera_seconds_since_last_frame",
    "streamer_spool_entries",
    "streamer_storage_used_bytes",
    "streamer_storage_free_bytes",
    "streamer_storage_budget_bytes",
    "streamer_vlm_queue_jobs",
)


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def scrape(request: Request, _admin: Annotated[User, Depends(admin_only)]) -> Response:
    state = request.app.state
    body = await run_in_threadpool(render, state.service, state.redis_url)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def render(service, redis_url: str | None) -> bytes:
    registry = CollectorRegistry()
    registry.register(ServiceCollector(service, redis_url, _folder(service.storage_dir)))
    return generate_latest(registry)


def _folder(storage_dir: Path) -> Path | None:
    """This process's multiprocess folder (`streamer run`), else the one a `streamer run` on the same storage writes
    (`streamer serve` beside it)."""
    folder = Path(os.environ[metrics.ENV]) if os.environ.get(metrics.ENV) else storage_dir / "metrics"
    return folder if folder.is_dir() else None


class ServiceCollector:
    def __init__(self, service, redis_url: str | None, folder: Path | None):
        self.service = service
        self.redis_url = redis_url
        self.folder = folder

    def collect(self):
        last_frames: dict[str, float] = {}
        if self.folder is not None:
            for family in MultiProcessCollector(None, path=str(self.folder)).collect():
                if family.name == "streamer_camera_last_frame_timestamp_seconds":
                    last_frames = {s.labels["camera"]: s.value for s in family.samples}
                yield family
        yield self._since_last_frame(last_frames)
        yield from self._spool()
        yield from self._storage()
        yield from self._vlm_queue()

    @staticmethod
    def _since_last_frame(last_frames: dict[str, float]) -> Metric:
        family = GaugeMetricFamily(
            "streamer_camera_seconds_since_last_frame",
            "Seconds since the camera's latest frame was tracked.",
            labels=["camera"],
        )
        now = time.time()
        for camera, ts in sorted(last_frames.items()):
            family.add_metric([camera], max(0.0, now - ts))
        return family

    def _spool(self):
        family = GaugeMetricFamily(
            "streamer_spool_entries", "Messages in a spool file waiting for Redis.", labels=["spool"]
        )
        for backlog in backlogs(self.service.storage_dir / "spool"):
            if not backlog.name.endswith(".rejected"):  # set aside for good, not waiting
                family.add_metric([backlog.name], backlog.entries)
        yield family

    def _storage(self):
        figures = storage_figures(self.service)
        yield GaugeMetricFamily(
            "streamer_storage_used_bytes", "Recordings, clips and playback cuts on disk.", figures["used_bytes"]
        )
        yield GaugeMetricFamily(
            "streamer_storage_free_bytes", "Free space on the storage folder's disk.", figures["free_bytes"]
        )
        if figures["budget_bytes"] is not None:
            yield GaugeMetricFamily(
                "streamer_storage_budget_bytes",
                "storage.max_size: retention keeps the recordings under it.",
                figures["budget_bytes"],
            )

    def _vlm_queue(self):
        config = self.service.config
        if config.vlm is None or self.redis_url is None:
            return
        from streamer.alerts.streams import StreamNames
        from streamer.vlm.queue import JobQueue

        client = redis_connect(self.redis_url, config.redis.connect_timeout_s)
        try:
            stats = JobQueue(client, StreamNames(config.redis.prefix), config.vlm.queue).stats()
        except redis.RedisError:
            return  # Redis down: the gauges are absent rather than wrong
        finally:
            client.close()
        depth = GaugeMetricFamily("streamer_vlm_queue_jobs", "VLM jobs waiting or being answered.", labels=["state"])
        for key in ("waiting", "running"):
            if key in stats:
                depth.add_metric([key], float(stats[key]))
        yield depth
