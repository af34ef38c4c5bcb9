"""The VLM stage run over a labelled clip set, as it runs on a camera's events: each clip sampled at the stage's
rate onto the wall clock, asked the event type's question with the stage's prompt, its answer parsed (asked again
once when refused, as the worker does) and turned into a finding, then compared with the clip's truth.

A clip set is a folder with `clips.yaml` (docs/vlm.md, "Measuring the stage"):

    clips:
      - file: lobby-fall-1.mp4     # relative to clips.yaml
        event_type: fall           # the rule's event type: it picks the question
        happens: true              # the truth
        start_s: 3.1               # when it starts and ends, seconds from the file's start (when it happens)
        end_s: 3.8
        label: person              # optional: what the detector flagged (default person)
        note: a fall forward       # optional, for people
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import yaml
from pydantic import Field, ValidationError, model_validator

from streamer.config.base import StrictModel
from streamer.config.vlm import BoxSpace, VlmConfig
from streamer.record.sample import read_segment
from streamer.vlm.answer import AnswerError, VlmAnswer, parse_answer
from streamer.vlm.backends import VlmBackend, VlmReply, VlmRequest
from streamer.vlm.finding import to_finding
from streamer.vlm.frames import model_size, write_jpeg
from streamer.vlm.job import JobFrame, JobKind, VlmJob
from streamer.vlm.scores import ClipOutcome
from streamer.vlm.worker import build_request, correction

CLIPS_FILE = "clips.yaml"
CLOCK_ORIGIN = 1_800_000_000.0  # a clip's media time 0 on the wall clock: every time is absolute, as on a camera


class ClipSetError(ValueError):
    pass


class LabelledClip(StrictModel):
    file: str = Field(min_length=1)
    event_type: str = Field(min_length=1)
    happens: bool
    start_s: float | None = Field(None, ge=0)
    end_s: float | None = Field(None, ge=0)
    label: str = "person"
    note: str | None = None

    @model_validator(mode="after")
    def _truth_has_times(self) -> "LabelledClip":
        if self.happens and (self.start_s is None or self.end_s is None):
            raise ValueError("a clip where it happens needs start_s and end_s")
        if self.start_s is not None and self.end_s is not None and self.end_s < self.start_s:
            raise ValueError("end_s is before start_s")
        return self


class ClipSet(StrictModel):
    clips: list[LabelledClip] = Field(min_length=1)


def load_clip_set(folder: Path) -> list[LabelledClip]:
    """The clips of `folder/clips.yaml`, each file checked to exist; ClipSetError names what is wrong and where."""
    path = folder / CLIPS_FILE if folder.is_dir() else folder
    if not path.is_file():
        raise ClipSetError(f"{path}: no {CLIPS_FILE} here (a clip set is a folder with {CLIPS_FILE} and its videos)")
    try:
        clip_set = ClipSet.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except yaml.YAMLError as error:
        raise ClipSetError(f"{path}: not YAML: {error}") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ClipSetError(f"{path}: {where}: {first['msg']}") from None
    missing = [clip.file for clip in clip_set.clips if not (path.parent / clip.file).is_file()]
    if missing:
        raise ClipSetError(f"{path}: no such video: {', '.join(missing)}")
    return clip_set.clips


@dataclass(frozen=True)
class Asked:
    answer: VlmAnswer | None
    error: AnswerError | None
    reply: VlmReply | None
    attempts: int
    latency_s: float


def ask(backend: VlmBackend, request: VlmRequest, duration_s: float) -> Asked:
    """One job as the worker asks it: parsed, and asked again once with the reason when refused."""
    began, attempts, reply, error = time.perf_counter(), 0, None, None
    while attempts < 2:
        attempts += 1
        (result,) = backend.answer([request])
        if isinstance(result, Exception):
            reply, error = None, AnswerError("backend", f"{type(result).__name__}: {result}")
        else:
            reply = result
            try:
                answer = parse_answer(result.text, duration_s, 1.0 / request.fps)
                return Asked(answer, None, reply, attempts, time.perf_counter() - began)
            except AnswerError as refused:
                error = refused
        request = correction(request, reply.text if reply else "", error, duration_s)
    return Asked(None, error, reply, attempts, time.perf_counter() - began)


def evaluate(
    folder: Path, clips: list[LabelledClip], backend: VlmBackend, config: VlmConfig, scratch: Path, box_space: BoxSpace
) -> Iterator[ClipOutcome]:
    base = folder if folder.is_dir() else folder.parent
    for number, clip in enumerate(clips):
        job = sample_clip(base / clip.file, clip, f"clip-{number:03d}", config, scratch)
        request = build_request(job, scratch, config, None, box_space)
        asked = ask(backend, request, job.window_end_ts - job.window_start_ts)
        yield outcome_of(clip, job, asked, box_space)


def outcome_of(clip: LabelledClip, job: VlmJob, asked: Asked, box_space: BoxSpace) -> ClipOutcome:
    verdict, start_error, end_error = "refused", None, None
    if asked.answer is not None:
        finding = to_finding(job, asked.answer, asked.reply.input_wh if asked.reply else None, box_space)
        verdict = finding.verdict
        if clip.happens and verdict == "confirmed" and finding.start_ts is not None:
            start_error = round(abs(finding.start_ts - (CLOCK_ORIGIN + clip.start_s)), 3)
            end_error = round(abs(finding.end_ts - (CLOCK_ORIGIN + clip.end_s)), 3)
    return clip_outcome(clip.file, clip.event_type, clip.happens, verdict, asked, start_error, end_error)


def clip_outcome(
    name: str,
    event_type: str,
    happens: bool,
    verdict: str,
    asked: Asked,
    start_error: float | None,
    end_error: float | None,
) -> ClipOutcome:
    """One clip's outcome with what asking it cost (latency, attempts, tokens) and the parser's last refusal."""
    reply = asked.reply
    return ClipOutcome(
        name,
        event_type,
        happens,
        verdict,
        asked.error.kind if asked.error else None,
        start_error,
        end_error,
        round(asked.latency_s, 3),
        asked.attempts,
        reply.prompt_tokens if reply else None,
        reply.completion_tokens if reply else None,
        reply.vision_tokens if reply else None,
    )


def sample_clip(video: Path, clip: LabelledClip, name: str, config: VlmConfig, scratch: Path) -> VlmJob:
    """The clip's frames at the stage's rate (its first `max_window_s`), resized to the model's pixel budget and
    written where the backend reads them, as a verify job of the clip's event type."""
    sampling = config.sampling
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        seconds = float(container.duration or 0) / av.time_base or float(stream.frames or 0) / float(
            stream.average_rate or 1
        )
        end = CLOCK_ORIGIN + min(seconds, sampling.max_window_s)
        best = read_segment(container, CLOCK_ORIGIN, CLOCK_ORIGIN, end, sampling.fps, {})
        images = [(wall, frame.to_ndarray(format="bgr24")) for wall, frame in (best[s] for s in sorted(best))]
    if len(images) < 2:
        raise ClipSetError(f"{video}: fewer than 2 frames at {sampling.fps:g} fps")
    height, width = images[0][1].shape[:2]
    size = model_size(width, height, sampling)
    folder = scratch / name
    folder.mkdir(parents=True, exist_ok=True)
    frames = []
    for index, (wall, image) in enumerate(images):
        relative = f"{name}/{index:03d}.jpg"
        write_jpeg(scratch / relative, cv2.resize(image, size, interpolation=cv2.INTER_AREA))
        frames.append(JobFrame(relative, wall, ()))
    # the truth stays out of the job: the model gets the clip and the question, as on a camera
    return VlmJob(
        name,
        JobKind.VERIFY,
        "eval",
        clip.event_type,
        "eval",
        name,
        None,
        clip.label,
        3,
        sampling.fps,
        tuple(frames),
        (width, height),
        size,
        frames[0].wall_ts,
        None,
        time.time(),
        None,
    )
