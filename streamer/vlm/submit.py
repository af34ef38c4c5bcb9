"""The camera worker's hand-off to the job queue, on a thread of its own: writes a clip's frames as JPEGs
under the storage folder and enqueues the (small) job. While Redis is unreachable, clips wait in memory,
a bounded number of them; beyond that the lowest-priority one is dropped and counted."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import redis

from streamer.alerts.liveness import RedisLiveness
from streamer.alerts.redis_access import connect
from streamer.config.vlm import RISK_ORDER, VlmConfig
from streamer.core.backoff import Backoff
from streamer.storage import vlm_frames_relpath
from streamer.vlm.frames import write_jpeg
from streamer.vlm.job import JobFrame, JobKind, JobState, VlmJob
from streamer.vlm.queue import EnqueueOutcome, JobQueue
from streamer.vlm.sampler import ClipRequest

log = logging.getLogger("streamer.vlm")
MAX_WAITING = 64


def frames_folder(camera: str, job_id: str, start_ts: float) -> str:
    return vlm_frames_relpath(camera, job_id, start_ts)


class JobSubmitter:
    def __init__(
        self,
        camera: str,
        storage_dir: Path,
        vlm: VlmConfig,
        queue_factory,
        heartbeat_s: float = 1.0,
        on_frames: Callable[[list[str]], None] | None = None,
    ):
        self.camera = camera
        self.on_frames = (
            on_frames  # with an object store: the frames go there before the job (a worker elsewhere reads them)
        )
        self.storage_dir = storage_dir
        self.vlm = vlm
        self._queue_factory = queue_factory  # () → JobQueue; called on this thread, again after a failure
        self._queue: JobQueue | None = None
        self._waiting: list[ClipRequest | VlmJob] = []  # a request becomes a job once its JPEGs are written
        self._cond = threading.Condition()
        self._closing = False
        self.dropped = 0
        self.outcomes: dict[EnqueueOutcome, int] = {}
        self.liveness = RedisLiveness(f"vlm-submit-{camera}", heartbeat_s)
        self._thread = threading.Thread(target=self._run, name=f"vlm-submit-{camera}", daemon=True)
        self._thread.start()

    @classmethod
    def for_redis(
        cls,
        camera: str,
        storage_dir: Path,
        vlm: VlmConfig,
        url: str,
        names,
        timeout_s: float,
        heartbeat_s: float = 1.0,
        on_frames: Callable[[list[str]], None] | None = None,
    ) -> "JobSubmitter":
        return cls(
            camera,
            storage_dir,
            vlm,
            lambda: JobQueue(connect(url, timeout_s), names, vlm.queue),
            heartbeat_s,
            on_frames,
        )

    def __call__(self, request: ClipRequest) -> None:
        """From the live path: only appends; the JPEGs are written on this object's thread."""
        with self._cond:
            self._waiting.append(request)
            self._trim()
            self._cond.notify()

    def close(self, timeout_s: float = 10.0) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout_s)
        if self._waiting:
            log.warning(
                "VLM jobs not queued at stop (redis unreachable)",
                extra={"fields": {"camera": self.camera, "jobs": len(self._waiting)}},
            )

    def _trim(self) -> None:
        while len(self._waiting) > MAX_WAITING:
            lowest = min(self._waiting, key=lambda item: (self._priority(item), -self._waiting.index(item)))
            self._waiting.remove(lowest)
            self.dropped += 1
            log.warning(
                "VLM job dropped: redis unreachable and too many waiting",
                extra={"fields": {"camera": self.camera, "job": lowest.job_id, "dropped": self.dropped}},
            )

    def _run(self) -> None:
        backoff = Backoff(0.2, self.liveness.heartbeat_s)
        while True:
            with self._cond:
                while not self._waiting and not self._closing:
                    if self.liveness.check_due():
                        break
                    self._cond.wait(self.liveness.heartbeat_s)
                if not self._waiting and self._closing:
                    return
                request = self._waiting[0] if self._waiting else None
            if request is None:
                self._heartbeat()
                continue
            try:
                job = request if isinstance(request, VlmJob) else self._write(request)
            except OSError as error:  # a full disk: the clip is lost, the live path goes on
                log.error(
                    "VLM clip not written: %s", error, extra={"fields": {"camera": self.camera, "job": request.job_id}}
                )
                self._pop(request)
                continue
            try:
                outcome = self._queued().enqueue(job)
            except redis.RedisError as error:
                self._on_failure(error)
                if self._closing:
                    return
                with self._cond:
                    if self._waiting and self._waiting[0] is request:
                        self._waiting[0] = job  # written once; only the enqueue is retried
                    # the whole backoff: a new clip arriving meanwhile is queued, not a reason to retry sooner
                    retry_at = time.monotonic() + backoff.next_delay()
                    while not self._closing and (left := retry_at - time.monotonic()) > 0:
                        self._cond.wait(left)
                continue
            backoff.reset()
            self.liveness.succeeded()
            self._pop(request)
            self._log_outcome(job, outcome)

    def _heartbeat(self) -> None:
        """While idle, so an outage is noticed and timed when it happens."""
        try:
            self._queued().client.ping()
        except redis.RedisError as error:
            self._on_failure(error)
            return
        self.liveness.succeeded()

    def _on_failure(self, error: redis.RedisError) -> None:
        self._queue = None
        self.liveness.failed(f"VLM jobs wait in memory ({len(self._waiting)}): {error}")

    def _log_outcome(self, job: VlmJob, outcome: EnqueueOutcome) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        state = JobState.DROPPED if outcome is EnqueueOutcome.DROPPED else JobState.QUEUED
        log.info(
            "VLM job %s",
            state.value,
            extra={
                "fields": {
                    "camera": self.camera,
                    "job": job.job_id,
                    "outcome": outcome.value,
                    "frames": len(job.frames),
                    "window_s": round(job.window_end_ts - job.window_start_ts, 2),
                }
            },
        )

    def _pop(self, request) -> None:
        with self._cond:
            if self._waiting and self._waiting[0] is request:
                self._waiting.pop(0)

    def _queued(self) -> JobQueue:
        if self._queue is None:
            self._queue = self._queue_factory()
        return self._queue

    def _write(self, request: ClipRequest) -> VlmJob:
        folder = frames_folder(self.camera, request.job_id, request.start_ts)
        (self.storage_dir / folder).mkdir(parents=True, exist_ok=True)
        frames = []
        for number, sampled in enumerate(request.frames):
            relative = f"{folder}/{number:03d}.jpg"
            write_jpeg(self.storage_dir / relative, sampled.image)
            frames.append(JobFrame(relative, round(sampled.wall_ts, 3), sampled.boxes))
        if self.on_frames is not None:
            self.on_frames([frame.path for frame in frames])
        first = request.frames[0]
        height, width = first.image.shape[:2]
        event, watch = request.event, request.watch
        return VlmJob(
            job_id=request.job_id,
            kind=request.kind,
            camera=self.camera,
            event_type=event.type if event else "watch",
            rule=event.rule if event else watch.name,
            event_id=event.event_id if event else None,
            track_id=event.track_id if event else None,
            label=event.label if event else "",
            priority=self._priority(request),
            fps=self.vlm.sampling.fps,
            frames=tuple(frames),
            frame_wh=first.frame_wh,
            model_wh=(width, height),
            event_start_ts=event.start_ts if event else request.start_ts,
            event_end_ts=event.end_ts if event else None,
            created_ts=round(time.time(), 3),
            alert=request.alert_json,
            prompt=watch.prompt if watch else None,
            risk_level=watch.risk_level if watch else None,
        )

    def _priority(self, item) -> int:
        if isinstance(item, VlmJob):
            return item.priority
        if item.kind is JobKind.WATCH:
            return RISK_ORDER[item.watch.risk_level]
        return self.vlm.priority_of(item.event.type)
