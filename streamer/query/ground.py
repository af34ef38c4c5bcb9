"""Temporal grounding: the question is put to the VLM stage's backend about clip windows sampled from the
recordings at the real fps (frame times in the prompt, `second_per_grid_ts = 2 / fps` for Qwen2.5-VL). The
answer is read as the VLM stage's JSON, or as "X – Y seconds", and turned into wall-clock times.

The backend runs on a thread of its own with a deadline: past `query.vlm_timeout_s` the question is answered
from the index and the answer says so. One question at a time uses the backend (an in-process model is not
re-entrant); a question that finds it still busy with a timed-out one is answered from the index too."""

from __future__ import annotations

import enum
import hashlib
import logging
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path

import cv2
from sqlalchemy import Connection

from pipelines import prompts
from streamer.config.vlm import VlmConfig
from streamer.core.timefmt import iso_time
from streamer.media.files import MediaFiles
from streamer.record.sample import sample_recording
from streamer.vlm.answer import AnswerError, parse_answer
from streamer.vlm.backends import VlmBackend, VlmReply, VlmRequest
from streamer.vlm.frames import model_size, write_jpeg

log = logging.getLogger("streamer.query")
_SPAN = re.compile(
    r"(\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds)?\s*(?:-|–|—|to|until|and)\s*(\d+(?:\.\d+)?)\s*(?:s\b|sec|seconds)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class GroundWindow:
    camera: str
    start_ts: float
    end_ts: float
    hit_index: int | None = None  # the ranked hit it checks; None: a --scan window

    @property
    def key(self) -> str:
        return hashlib.sha1(f"{self.camera}|{self.start_ts:.3f}|{self.end_ts:.3f}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class GroundedSpan:
    start_ts: float
    end_ts: float
    label: str
    description: str
    risk_level: str | None


class WindowVerdict(enum.StrEnum):
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    INVALID = "invalid"  # the answer could not be read as an answer
    NO_FOOTAGE = "no_footage"  # nothing recorded in the window
    ERROR = "error"  # its frames could not be written


class GroundingStatus(enum.StrEnum):
    ANSWERED = "answered"
    TIMEOUT = "timeout"
    BUSY = "busy"  # still answering an earlier question
    UNAVAILABLE = "unavailable"  # the backend could not be started
    ERROR = "error"
    SKIPPED = "skipped"  # nothing to look at


@dataclass(frozen=True)
class WindowAnswer:
    window: GroundWindow
    verdict: WindowVerdict
    spans: tuple[GroundedSpan, ...] = ()
    detail: str | None = None


@dataclass(frozen=True)
class GroundingReport:
    status: GroundingStatus
    model: str | None
    detail: str | None
    answers: tuple[WindowAnswer, ...] = ()
    seconds: float = 0.0
    asked: tuple[GroundWindow, ...] = ()  # the windows put to the backend


@dataclass
class _Call:
    requests: list[VlmRequest]
    folder: Path  # this call's frames: removed when it ends, whoever asks next
    replies: list = field(default_factory=list)
    error: BaseException | None = None
    model: str | None = None
    done: threading.Event = field(default_factory=threading.Event)


class Grounder:
    def __init__(
        self,
        vlm: VlmConfig,
        files: MediaFiles,
        backend_factory: Callable[[], VlmBackend],
        timeout_s: float,
        tz: tzinfo | None = None,
    ):
        self.vlm = vlm
        self.files = files  # the recordings: local copies, else the object store
        self.storage_dir = files.storage_dir
        self._factory = backend_factory
        self._backend: VlmBackend | None = None
        self._busy = threading.Lock()
        self.timeout_s = timeout_s
        self.tz = tz

    def ground(self, question: str, windows: list[GroundWindow], conn: Connection) -> GroundingReport:
        started = time.monotonic()
        try:
            folder = self._call_folder()
        except OSError as error:  # reported like a window whose frames could not be written, never raised
            detail = f"frames not written: {error}"
            return GroundingReport(
                GroundingStatus.ERROR,
                None,
                detail,
                tuple(WindowAnswer(w, WindowVerdict.ERROR, detail=detail) for w in windows),
            )
        prepared, answers = self._prepare(question, windows, conn, folder)
        if not prepared:
            shutil.rmtree(folder, ignore_errors=True)
            return GroundingReport(GroundingStatus.SKIPPED, None, "no recorded footage in the windows", tuple(answers))
        call, asked = _Call([request for _, request in prepared], folder), tuple(window for window, _ in prepared)
        if not self._busy.acquire(timeout=self.timeout_s):
            shutil.rmtree(folder, ignore_errors=True)
            return GroundingReport(
                GroundingStatus.BUSY,
                None,
                "the VLM is still busy with an earlier question",
                tuple(answers),
                asked=asked,
            )
        threading.Thread(target=self._answer, args=(call,), name="query-vlm", daemon=True).start()
        if not call.done.wait(self.timeout_s):
            log.warning(
                "VLM grounding timed out", extra={"fields": {"timeout_s": self.timeout_s, "windows": len(prepared)}}
            )
            return GroundingReport(
                GroundingStatus.TIMEOUT,
                call.model,
                f"no answer within {self.timeout_s:g} s",
                tuple(answers),
                time.monotonic() - started,
                asked,
            )
        if call.error is not None:
            status = GroundingStatus.UNAVAILABLE if call.model is None else GroundingStatus.ERROR
            return GroundingReport(
                status,
                call.model,
                f"{type(call.error).__name__}: {call.error}",
                tuple(answers),
                time.monotonic() - started,
                asked,
            )
        for (window, request), reply in zip(prepared, call.replies):
            answers.append(_read(window, request, reply))
        return GroundingReport(
            GroundingStatus.ANSWERED, call.model, None, tuple(answers), time.monotonic() - started, asked
        )

    def _prepare(self, question: str, windows: list[GroundWindow], conn: Connection, folder):
        """Each window's request (its frames written), or at once its answer: no footage, or frames not written."""
        prepared, answers = [], []
        for window in windows:
            try:
                request = self._request(question, window, conn, folder)
            except OSError as error:
                answers.append(WindowAnswer(window, WindowVerdict.ERROR, detail=f"frames not written: {error}"))
                continue
            if request is None:
                answers.append(
                    WindowAnswer(window, WindowVerdict.NO_FOOTAGE, detail="no recorded frame in this window")
                )
            else:
                prepared.append((window, request))
        return prepared, answers

    def _answer(self, call: _Call) -> None:
        try:
            if self._backend is None:
                self._backend = self._factory()
            call.model = self._backend.model_name
            call.replies = self._backend.answer(call.requests)
        except BaseException as error:  # reported to the question, never raised on this thread
            call.error = error
        finally:
            shutil.rmtree(call.folder, ignore_errors=True)
            self._busy.release()
            call.done.set()

    def _call_folder(self) -> Path:
        """A folder per call: a timed-out call still running must not delete the frames of the next question,
        which may ask about the same window."""
        frames_root = self.storage_dir / "query" / "frames"
        frames_root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="call-", dir=frames_root))

    def _request(self, question: str, window: GroundWindow, conn: Connection, call_folder: Path) -> VlmRequest | None:
        sampling = self.vlm.sampling
        frames = sample_recording(self.files, conn, window.camera, window.start_ts, window.end_ts, sampling.fps)
        if not frames:
            return None
        height, width = frames[0].image.shape[:2]
        size = model_size(width, height, sampling)
        folder = call_folder / window.key
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for number, frame in enumerate(frames):
            path = folder / f"{number:03d}.jpg"
            write_jpeg(path, cv2.resize(frame.image, size, interpolation=cv2.INTER_AREA))
            paths.append(path)
        times = tuple(round(f.wall_ts - window.start_ts, 3) for f in frames)
        text = prompts.user_prompt(
            prompts.grounding_question(question), iso_time(window.start_ts, self.tz), times, sampling.fps, size, None
        )
        return VlmRequest(
            window.key,
            "query",
            prompts.SEARCH_SYSTEM,
            text,
            tuple(paths),
            times,
            sampling.fps,
            sampling.min_pixels,
            sampling.max_pixels,
        )


def _read(window: GroundWindow, request: VlmRequest, reply: VlmReply | Exception) -> WindowAnswer:
    if isinstance(reply, Exception):
        return WindowAnswer(window, WindowVerdict.ERROR, detail=f"{type(reply).__name__}: {reply}")
    duration = request.frame_times[-1] + 1.0 / request.fps
    try:
        answer = parse_answer(reply.text, duration, tolerance_s=1.0 / request.fps)
    except AnswerError as error:
        spans = _spans_in_text(reply.text, window, duration)
        if spans:
            return WindowAnswer(window, WindowVerdict.CONFIRMED, spans, detail="read as 'X – Y seconds'")
        return WindowAnswer(window, WindowVerdict.INVALID, detail=str(error))
    spans = tuple(
        GroundedSpan(
            window.start_ts + e.start_time,
            window.start_ts + min(e.end_time, duration),
            e.label,
            e.description,
            e.risk_level,
        )
        for e in answer.events
    )
    return WindowAnswer(window, WindowVerdict(answer.verdict), spans)


def _spans_in_text(text: str, window: GroundWindow, duration: float) -> tuple[GroundedSpan, ...]:
    spans = []
    for match in _SPAN.finditer(text):
        start, end = float(match.group(1)), float(match.group(2))
        if 0 <= start <= end <= duration + 1.0:
            spans.append(
                GroundedSpan(
                    window.start_ts + start,
                    window.start_ts + min(end, duration),
                    "answer",
                    " ".join(text.split())[:300],
                    None,
                )
            )
    return tuple(spans)
