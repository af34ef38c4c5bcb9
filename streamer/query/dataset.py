"""People's reviews as a fine-tuning set for Qwen2.5-VL: for every reviewed event whose start lies in a range, the
frames sampled from the recordings at the VLM's rate with their real times, the very prompt the VLM stage asks,
and the reviewed verdict as the answer, in the JSON the stage parses. One conversation a line in `train.jsonl`,
in the `messages` + `videos` layout (a `<video>` placeholder in the user turn, the video as its list of frames)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
from sqlalchemy import Connection

from pipelines.prompts import SYSTEM, detector_hint, question_for, user_prompt
from streamer.alerts.payload import AlertPayload
from streamer.config.root import StreamerConfig
from streamer.config.vlm import BackendKind, SamplingConfig
from streamer.core.timefmt import iso_time
from streamer.index import store
from streamer.index.rows import ReviewRow
from streamer.media.files import MediaFiles
from streamer.record.sample import sample_recording
from streamer.vlm.frames import model_size
from streamer.vlm.worker import scaled_box

FRAMES = "frames"
JSONL = "train.jsonl"


@dataclass(frozen=True)
class ExportReport:
    written: int
    skipped: tuple[str, ...]  # "<event id>: why"
    path: Path


def export_reviews(
    config: StreamerConfig, conn: Connection, since_ts: float, until_ts: float, out: Path, cameras: list[str]
) -> ExportReport:
    sampling = config.vlm.sampling if config.vlm is not None else SamplingConfig()
    out.mkdir(parents=True, exist_ok=True)
    skipped, written = [], 0
    with (out / JSONL).open("w", encoding="utf-8") as lines:
        for stored, review in store.reviewed_events(conn, since_ts, until_ts, cameras):
            event = AlertPayload.model_validate(stored)  # the index keeps only messages that passed the contract
            line = _conversation(config, conn, event, review, sampling, out)
            if isinstance(line, str):
                skipped.append(f"{event.event_id}: {line}")
                continue
            lines.write(json.dumps(line, ensure_ascii=False) + "\n")
            written += 1
    return ExportReport(written, tuple(skipped), out / JSONL)


def _conversation(
    config: StreamerConfig, conn, event: AlertPayload, review: ReviewRow, sampling: SamplingConfig, out: Path
):
    start, end = event.start_ts, event.end_ts or event.start_ts
    window_start = start - sampling.pre_s
    window_end = min(end + sampling.post_s, window_start + sampling.max_window_s)
    frames = sample_recording(
        MediaFiles.for_storage(config.storage_dir, config.storage),
        conn,
        event.camera,
        window_start,
        window_end,
        sampling.fps,
    )
    if len(frames) < 2:
        return "fewer than 2 frames recorded around it (retention, or a gap)"
    return conversation(config, event, review, frames, sampling, out)


def conversation(
    config: StreamerConfig, event: AlertPayload, review: ReviewRow, frames: list, sampling: SamplingConfig, out: Path
) -> dict:
    """One reviewed event's line, its frames (each with `.image`, BGR, and `.wall_ts`) written under `out`."""
    start = event.start_ts
    folder = out / FRAMES / event.event_id
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, frame in enumerate(frames):
        path = folder / f"{number:03d}.jpg"
        cv2.imwrite(str(path), frame.image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(path.relative_to(out).as_posix())
    clip_start = frames[0].wall_ts
    times = tuple(round(frame.wall_ts - clip_start, 3) for frame in frames)
    height, width = frames[0].image.shape[:2]
    prompt = _prompt(
        config, event, sampling, iso_time(clip_start, _tz(config)), times, (width, height), start - clip_start
    )
    return {
        "id": event.event_id,
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": "<video>" + prompt},
            {"role": "assistant", "content": json.dumps(_answer(event, review, clip_start, times[-1]))},
        ],
        "videos": [paths],
        "frame_times_s": list(times),
        "fps": sampling.fps,
        "clip_start_iso": iso_time(clip_start, _tz(config)),
        "event": event.model_dump(include={"camera", "type", "label", "start_iso", "end_iso", "verification"}),
        "review": {
            "verdict": review.verdict,
            "note": review.note,
            "reviewer": review.reviewer,
            "reviewed_ts": review.reviewed_ts,
            "reviewed_iso": iso_time(review.reviewed_ts, _tz(config)),
        },
    }


def _prompt(
    config: StreamerConfig,
    event: AlertPayload,
    sampling: SamplingConfig,
    clip_start_iso: str,
    times: tuple[float, ...],
    frame_wh: tuple[int, int],
    at_s: float,
) -> str:
    """The words the VLM worker would use for this event (the model's frame size, the model's box coordinates), so
    that a model tuned on them is asked the same at the site."""
    model_wh = model_size(*frame_wh, sampling)
    box_space = config.vlm.box_space(_model_name(config)) if config.vlm is not None else "input_pixels"
    space_wh = (1000, 1000) if box_space == "relative_1000" else model_wh
    hint = detector_hint(
        event.label, max(0.0, at_s), scaled_box(event.bbox_xyxy, frame_wh, space_wh), box_space, model_wh
    )
    return user_prompt(
        question_for(event.type, event.label), clip_start_iso, times, sampling.fps, model_wh, hint, box_space
    )


def _model_name(config: StreamerConfig) -> str:
    vlm = config.vlm
    return vlm.openai.model if vlm.backend is BackendKind.OPENAI else vlm.transformers.model


def _answer(event: AlertPayload, review: ReviewRow, clip_start: float, last_s: float) -> dict:
    """The reviewed verdict in the JSON the VLM stage asks for and parses (times from the clip's start)."""
    if review.verdict == "false_alarm":
        return {"verdict": "rejected", "events": []}
    begin = max(0.0, event.start_ts - clip_start)
    finish = min(last_s, max(begin, (event.end_ts or event.start_ts) - clip_start))
    what = f"{event.label} {event.type.replace('_', ' ')}"
    return {
        "verdict": "confirmed",
        "events": [
            {
                "label": what,
                "start_time": round(begin, 1),
                "end_time": round(finish, 1),
                "risk_level": event.risk_level or "medium",
                "description": review.note or event.description or f"A {event.label}: {event.type.replace('_', ' ')}.",
            }
        ],
    }


def _tz(config: StreamerConfig):
    from zoneinfo import ZoneInfo

    return ZoneInfo(config.timezone)
