"""A `streamer dataset export` folder read back as reviewed clips, each checked (its frames there, its answer one
the stage parses), and split into training and held-out clips with both verdicts on each side."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from streamer.vlm.answer import AnswerError, VlmAnswer, parse_answer

JSONL = "train.jsonl"  # the name `streamer dataset export` writes
VIDEO_PLACEHOLDER = "<video>"


class ExportError(ValueError):
    """The folder cannot be trained on; the message says why and what to do."""


@dataclass(frozen=True)
class ReviewedClip:
    clip_id: str
    event_type: str
    system: str
    prompt: str  # the user turn without its <video> placeholder
    answer_text: str  # the reviewed answer, exactly as the model is taught to write it
    answer: VlmAnswer
    frames: tuple[Path, ...]
    frame_times: tuple[float, ...]  # seconds from the clip's start
    fps: float

    @property
    def verdict(self) -> str:
        return self.answer.verdict

    @property
    def duration_s(self) -> float:
        return self.frame_times[-1] + 1.0 / self.fps


def read_export(folder: Path) -> list[ReviewedClip]:
    lines_file = folder / JSONL
    if not folder.is_dir():
        raise ExportError(f"{folder}: no such folder (write one with `streamer dataset export -o {folder}`)")
    if not lines_file.is_file():
        raise ExportError(f"{folder}: not a `streamer dataset export` folder: it has no {JSONL}")
    clips = []
    for number, line in enumerate(lines_file.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            clips.append(_clip(folder, line, f"{lines_file}:{number}"))
    if not clips:
        raise ExportError(
            f"{lines_file}: no reviewed events in it: review events in the console (true or false "
            "alarm), then export again"
        )
    return clips


def _clip(folder: Path, line: str, where: str) -> ReviewedClip:
    try:
        record = json.loads(line)
        system, user, assistant = (record["messages"][i]["content"] for i in range(3))
        (frames,) = record["videos"]
        times, fps, event_type = (
            tuple(float(t) for t in record["frame_times_s"]),
            float(record["fps"]),
            record["event"]["type"],
        )
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise ExportError(
            f"{where}: not a conversation of `streamer dataset export` ({type(error).__name__}: {error})"
        ) from None
    if not user.startswith(VIDEO_PLACEHOLDER) or len(frames) != len(times) or len(times) < 2 or fps <= 0:
        raise ExportError(
            f"{where}: its user turn must start with {VIDEO_PLACEHOLDER} and its frames match "
            "frame_times_s (two or more)"
        )
    paths = tuple(folder / frame for frame in frames)
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise ExportError(
            f"{where}: frame missing: {missing[0]}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
        )
    try:
        answer = parse_answer(assistant, times[-1] + 1.0 / fps, 1.0 / fps)
    except AnswerError as error:
        raise ExportError(
            f"{where}: its answer is not one the VLM stage accepts ({error.kind}: {error.detail})"
        ) from None
    return ReviewedClip(
        str(record.get("id", where)),
        event_type,
        system,
        user[len(VIDEO_PLACEHOLDER) :],
        assistant,
        answer,
        paths,
        times,
        fps,
    )


def split(
    clips: list[ReviewedClip], held_out_fraction: float, seed: int
) -> tuple[list[ReviewedClip], list[ReviewedClip]]:
    """Training and held-out clips, the same share of each verdict held out (at least one of each), reproducibly."""
    by_verdict = {verdict: [c for c in clips if c.verdict == verdict] for verdict in ("confirmed", "rejected")}
    counts = {verdict: len(group) for verdict, group in by_verdict.items()}
    if min(counts.values()) == 0:
        only = max(counts, key=counts.get)
        raise ExportError(
            f"all {counts[only]} reviewed events are {_reviewed_as(only)}s: a model learns to tell true "
            f"from false alarms only from both; review some {_reviewed_as(_other(only))}s and export again"
        )
    short = [verdict for verdict, count in counts.items() if count < 2]
    if short:
        raise ExportError(
            f"only {counts[short[0]]} {_reviewed_as(short[0])}: at least 2 of each verdict are needed, "
            "one to train on and one to hold out"
        )
    rng = random.Random(seed)
    train, held_out = [], []
    for group in by_verdict.values():
        shuffled = sorted(group, key=lambda c: c.clip_id)
        rng.shuffle(shuffled)
        keep = min(len(shuffled) - 1, max(1, round(len(shuffled) * held_out_fraction)))
        held_out += shuffled[:keep]
        train += shuffled[keep:]
    rng.shuffle(train)
    return train, held_out


def _reviewed_as(verdict: str) -> str:
    return "true alarm" if verdict == "confirmed" else "false alarm"


def _other(verdict: str) -> str:
    return "rejected" if verdict == "confirmed" else "confirmed"
