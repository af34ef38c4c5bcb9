"""`streamer vlm-worker`: takes jobs from the queue, asks the backend, publishes the finding, then acknowledges.

At-least-once: a job is acknowledged only after its alert is in Redis, so a worker killed in between leaves it
pending and another worker claims it after `claim_idle_s`; the re-sent alert has the same message id and is
dropped. An answer that is not valid is asked again once, with the reason; if the second is not valid either,
the event's update says `unverified` with the error. A job that fails `max_deliveries` times goes to the dead
letters and its event is updated the same way, so no event waits for ever.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import tzinfo
from pathlib import Path

import redis

from pipelines import prompts
from streamer import metrics
from streamer.alerts.direct import AlertWriter
from streamer.alerts.health import link_payload
from streamer.alerts.liveness import LinkChange, LinkState, RedisLiveness
from streamer.alerts.streams import StreamNames
from streamer.config.vlm import BoxSpace, VlmConfig
from streamer.core.timefmt import iso_time
from streamer.index import db, store
from streamer.index.rows import FindingRow
from streamer.media.files import MediaFiles, NotStored, as_files
from streamer.vlm.answer import AnswerError, VlmAnswer, parse_answer
from streamer.vlm.backends import VlmBackend, VlmReply, VlmRequest
from streamer.vlm.finding import Finding, to_finding
from streamer.vlm.job import JobKind, JobState, VlmJob
from streamer.vlm.outcome import verify_update, vlm_summary, watch_event
from streamer.vlm.queue import JobQueue, TakenJob

log = logging.getLogger("streamer.vlm")


@dataclass
class Attempt:
    """One job through one round of asking."""

    taken: TakenJob
    request: VlmRequest
    reply: VlmReply | None = None
    answer: VlmAnswer | None = None
    error: AnswerError | None = None


def build_request(
    job: VlmJob, storage: Path | MediaFiles, config: VlmConfig, tz: tzinfo | None, box_space: BoxSpace = "input_pixels"
) -> VlmRequest:
    question = prompts.question_for(job.event_type, job.label, job.prompt)
    hint = _detector_hint(job, box_space) if job.kind is JobKind.VERIFY else None
    text = prompts.user_prompt(
        question, iso_time(job.window_start_ts, tz), job.frame_times, job.fps, job.model_wh, hint, box_space
    )
    return VlmRequest(
        job.job_id,
        job.event_type,
        prompts.SYSTEM,
        text,
        tuple(as_files(storage).local_copy(f.path) for f in job.frames),
        job.frame_times,
        job.fps,
        config.sampling.min_pixels,
        config.sampling.max_pixels,
    )


def _detector_hint(job: VlmJob, box_space: BoxSpace) -> str | None:
    """Where the detector saw the object, in the model's coordinates, at the frame nearest the event's start."""
    frame = min(job.frames, key=lambda f: abs(f.wall_ts - job.event_start_ts))
    box = next((b for b in frame.boxes if b.track_id is not None and b.track_id == job.track_id), None)
    if box is None:
        return None
    space_wh = (1000, 1000) if box_space == "relative_1000" else job.model_wh
    return prompts.detector_hint(
        box.label,
        frame.wall_ts - job.window_start_ts,
        scaled_box(box.xyxy, job.frame_wh, space_wh),
        box_space,
        job.model_wh,
    )


def scaled_box(xyxy, frame_wh: tuple[int, int], space_wh: tuple[int, int]) -> tuple[float, float, float, float]:
    sx, sy = space_wh[0] / frame_wh[0], space_wh[1] / frame_wh[1]
    x1, y1, x2, y2 = xyxy
    return (x1 * sx, y1 * sy, x2 * sx, y2 * sy)


def correction(request: VlmRequest, reply_text: str, error: AnswerError, duration_s: float) -> VlmRequest:
    """The request asked again once, with the reason its answer was refused (a backend failure: as it was)."""
    if error.kind == "backend":
        return request
    if error.kind == "out_of_window":
        note = prompts.RETRY_OUT_OF_WINDOW.format(duration=duration_s)
    else:
        note = (
            f"Your previous answer was not valid ({error.detail}). Answer again with one JSON object "
            "in the format given, and nothing else."
        )
    return replace(request, history=(*request.history, (reply_text, note)))


class VlmWorker:
    def __init__(
        self,
        backend: VlmBackend,
        queue: JobQueue,
        writer: AlertWriter,
        config: VlmConfig,
        storage_dir: Path,
        consumer: str,
        tz: tzinfo | None = None,
        index: db.IndexTarget | None = None,
        files: MediaFiles | None = None,
    ):
        self.backend = backend
        self.queue = queue
        self.writer = writer
        self.config = config
        self.storage_dir = storage_dir
        self.index = index or storage_dir
        self.files = files or MediaFiles(storage_dir)  # the frames: local, else from the object store
        self.consumer = consumer
        self.tz = tz
        self.box_space = config.box_space(backend.model_name)  # how this model writes boxes: asked and read alike
        self.done = 0
        self._index = None
        # every take blocks at most 500 ms, so the loop itself is the heartbeat
        self.liveness = RedisLiveness(f"vlm:{consumer}", min(2.0, writer.config.heartbeat_s), self._report_link)

    def run(self, should_stop, max_jobs: int | None = None, exit_when_idle_s: float | None = None) -> int:
        """Until `should_stop()`, `max_jobs` jobs done, or no job for `exit_when_idle_s`. Returns the jobs done."""
        self.queue.ensure_group()
        idle_since = time.monotonic()
        log.info(
            "VLM worker ready",
            extra={"fields": {"consumer": self.consumer, "model": self.backend.model_name, "queue": self.queue.stream}},
        )
        while not should_stop() and (max_jobs is None or self.done < max_jobs):
            count = self.config.queue.batch if max_jobs is None else min(self.config.queue.batch, max_jobs - self.done)
            try:
                taken = self.queue.take(self.consumer, count, block_ms=500)
            except redis.RedisError as error:
                self.liveness.failed(f"{error}; jobs wait in the queue")
                time.sleep(self.liveness.heartbeat_s)
                continue
            self.liveness.succeeded()
            if taken:
                self.process(taken)
                idle_since = time.monotonic()
            elif exit_when_idle_s is not None and time.monotonic() - idle_since >= exit_when_idle_s:
                break
        return self.done

    def _report_link(self, change: LinkChange) -> None:
        """Nothing can reach the health stream while Redis is down: the outage's start and end go out together."""
        if change.state is not LinkState.UP or change.since_ts is None:
            return
        began = LinkChange(change.who, LinkState.DOWN, change.since_ts, "seen by the VLM worker's job queue")
        stream = StreamNames(self.writer.config.prefix).health
        for entry in (began, change):
            self.queue.client.xadd(
                stream,
                {"data": link_payload(entry, change.who).model_dump_json()},
                maxlen=self.writer.config.maxlen,
                approximate=True,
            )

    def process(self, taken: list[TakenJob]) -> None:
        attempts = []
        for item in taken:
            if item.job is None:
                self.queue.bury(item, "not a readable job", item.attempt)
            elif item.attempt > self.config.queue.max_deliveries:
                self._give_up(item)
            else:
                try:
                    request = build_request(item.job, self.files, self.config, self.tz, self.box_space)
                except NotStored as error:  # its frames not uploaded yet (the store away): redelivered later
                    log.warning(
                        "VLM job's frames not reachable yet: %s", error, extra={"fields": {"job": item.job.job_id}}
                    )
                    continue
                self._log_state(item, JobState.RUNNING)
                attempts.append(Attempt(item, request))
        if not attempts:
            return
        self._ask(attempts)
        again = [a for a in attempts if a.error is not None]
        if again:
            retried = [Attempt(a.taken, self._correction(a), error=None) for a in again]
            self._ask(retried)
            attempts = [a for a in attempts if a.error is None] + retried
        for attempt in attempts:
            self._finish(attempt)

    def _ask(self, attempts: list[Attempt]) -> None:
        try:
            replies = self.backend.answer([a.request for a in attempts])
        except Exception as error:  # the backend as a whole failed (out of memory, server down): all retry later
            log.exception("VLM backend failed")
            replies = [error] * len(attempts)
        for attempt, reply in zip(attempts, replies):
            if isinstance(reply, Exception):
                attempt.reply, attempt.error = None, AnswerError("backend", f"{type(reply).__name__}: {reply}")
                continue
            attempt.reply = reply
            duration = attempt.taken.job.window_end_ts - attempt.taken.job.window_start_ts
            try:
                attempt.answer, attempt.error = parse_answer(reply.text, duration, 1.0 / attempt.taken.job.fps), None
            except AnswerError as error:
                attempt.error = error

    def _correction(self, attempt: Attempt) -> VlmRequest:
        job = attempt.taken.job
        return correction(
            attempt.request,
            attempt.reply.text if attempt.reply else "",
            attempt.error,
            job.window_end_ts - job.window_start_ts,
        )

    def _finish(self, attempt: Attempt) -> None:
        taken, job = attempt.taken, attempt.taken.job
        if attempt.error is not None and attempt.error.kind == "backend":
            self.queue.failed(taken.entry_id, str(attempt.error))
            self._log_state(taken, JobState.RETRYING, error=str(attempt.error))
            return
        finding = None
        if attempt.answer is not None:
            finding = to_finding(job, attempt.answer, attempt.reply.input_wh if attempt.reply else None, self.box_space)
        status = "answered" if finding is not None else "invalid"
        error = None if attempt.error is None else str(attempt.error)
        self._publish(job, status, taken.attempt, finding, error, attempt.reply.text if attempt.reply else None)
        self.queue.done(taken.entry_id)
        self.done += 1
        self._log_state(
            taken,
            JobState.DONE,
            status=status,
            verdict=finding.verdict if finding else None,
            risk=finding.risk_level if finding else None,
            error=error,
        )

    def _give_up(self, taken: TakenJob) -> None:
        error = f"failed {taken.attempt - 1} times"
        last = self.queue.last_error(taken.entry_id)
        if last:
            error += f"; last error: {last}"
        self._publish(taken.job, "failed", taken.attempt - 1, None, error, None)
        self.queue.bury(taken, error, taken.attempt - 1, last)
        self._log_state(taken, JobState.DEAD, error=error)

    def _publish(
        self,
        job: VlmJob,
        status: str,
        attempts: int,
        finding: Finding | None,
        error: str | None,
        answer_text: str | None,
    ) -> None:
        summary = vlm_summary(job, self.backend.model_name, status, max(1, attempts), finding, self.tz, error)
        metrics.VLM_VERDICTS.labels(finding.verdict if finding is not None else status).inc()
        metrics.VLM_LATENCY.observe(summary.latency_s)
        if job.kind is JobKind.VERIFY:
            payload = verify_update(job, summary, finding)
            self.writer.publish(f"{job.event_id}:vlm:{job.job_id}", payload, owner="vlm")
        elif finding is not None and finding.verdict == "confirmed":
            for message_id, payload in watch_event(job, summary, finding, self.tz):
                self.writer.publish(message_id, payload, owner="camera")
        self._record(job, summary, finding, answer_text)

    def _record(self, job: VlmJob, summary, finding: Finding | None, answer_text: str | None) -> None:
        """Into the index next to the recordings, for queries. A worker without the storage folder's index skips it."""
        row = FindingRow(
            job_id=job.job_id,
            event_id=job.event_id,
            camera=job.camera,
            kind=job.kind.value,
            status=summary.status,
            verdict=finding.verdict if finding else None,
            risk_level=finding.risk_level if finding else None,
            label=finding.label if finding else None,
            description=finding.description if finding else None,
            start_ts=summary.start_ts,
            end_ts=summary.end_ts,
            window_start_ts=summary.window_start_ts,
            window_end_ts=summary.window_end_ts,
            track_id=summary.track_id,
            bbox_json=None if summary.bbox_xyxy is None else str(list(summary.bbox_xyxy)),
            model=summary.model,
            answer_text=answer_text,
            error=summary.error,
            answered_ts=time.time(),
        )
        try:
            if self._index is None:
                self._index = db.connect(self.index)
            with db.transaction(self._index):
                store.record_finding(self._index, row)
        except Exception as error:  # the alert is out; the index is a convenience here
            if self._index is not None:
                self._index.close()  # a connection the error broke is not used again
                self._index = None
            log.warning("finding not indexed: %s", error, extra={"fields": {"job": job.job_id}})

    def _log_state(self, taken: TakenJob, state: JobState, **fields) -> None:
        job = taken.job
        level = logging.WARNING if state in (JobState.RETRYING, JobState.DEAD) else logging.INFO
        log.log(
            level,
            "VLM job %s",
            state.value,
            extra={
                "fields": {
                    "job": job.job_id if job else taken.entry_id,
                    "event_id": job.event_id if job else None,
                    "attempt": taken.attempt,
                    **{k: v for k, v in fields.items() if v is not None},
                }
            },
        )

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
        self.backend.close()
