"""From a parsed answer to a Finding in absolute terms: wall-clock times, a box in source-frame pixels, and the
track it belongs to."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import numpy as np
import supervision as sv

from streamer.config.vlm import BoxSpace
from streamer.vlm.answer import VlmAnswer
from streamer.vlm.job import VlmJob

LINK_MIN_IOU = 0.3


@dataclass(frozen=True)
class Finding:
    verdict: Literal["confirmed", "rejected"]
    risk_level: str | None
    description: str | None
    label: str | None
    start_ts: float | None  # the VLM's own times of its main event, wall clock
    end_ts: float | None
    bbox_xyxy: tuple[float, float, float, float] | None  # source-frame pixels
    track_id: int | None  # the tracked object the box overlaps most


def to_finding(
    job: VlmJob, answer: VlmAnswer, input_wh: tuple[int, int] | None = None, box_space: BoxSpace = "input_pixels"
) -> Finding:
    """`input_wh`: the size the model saw (from `video_grid_thw`); the job's stored frame size otherwise."""
    event = answer.main_event
    if event is None:
        return Finding(answer.verdict, None, None, None, None, None, None, None)
    walls = tuple(frame.wall_ts for frame in job.frames)
    start = wall_time(walls, job.fps, event.start_time)
    end = wall_time(walls, job.fps, event.end_time)
    bbox = track = None
    if event.bbox_2d is not None:
        bbox = rescale_box(event.bbox_2d, input_wh or job.model_wh, job.frame_wh, box_space)
        track = link_track(job, bbox, start)
    return Finding(
        answer.verdict, event.risk_level, event.description, event.label, round(start, 3), round(end, 3), bbox, track
    )


def wall_time(walls: tuple[float, ...], fps: float, seconds: float) -> float:
    """The model's clip seconds on the wall clock. Qwen2.5-VL places the i-th sampled frame at i / fps (its time
    positions step by second_per_grid_ts for every 2 frames); the frames were taken at their own real times, up to
    half a detect interval off that grid, so a time between two frames is placed between their real times. Past
    the last frame it runs on at the clip's rate, to the clip's end."""
    position = max(0.0, seconds) * fps
    index = int(position)
    if index >= len(walls) - 1:
        last = len(walls) - 1
        return min(walls[last] + (position - last) / fps, walls[last] + 1.0 / fps)
    return walls[index] + (position - index) * (walls[index + 1] - walls[index])


def rescale_box(
    bbox_2d, input_wh: tuple[int, int], frame_wh: tuple[int, int], box_space: BoxSpace = "input_pixels"
) -> tuple[float, float, float, float] | None:
    """Qwen2.5-VL boxes are absolute pixels of its resized input, Qwen2-VL's and Qwen3-VL's thousandths of the
    frame; supervision maps either to the source frame."""
    reply = json.dumps([{"bbox_2d": list(bbox_2d), "label": "subject"}])
    if box_space == "relative_1000":
        detections = sv.Detections.from_vlm(sv.VLM.QWEN_3_VL, reply, resolution_wh=frame_wh)
    else:
        detections = sv.Detections.from_vlm(sv.VLM.QWEN_2_5_VL, reply, input_wh=input_wh, resolution_wh=frame_wh)
    if len(detections) == 0:  # supervision drops a box that is degenerate after clipping
        return None
    return tuple(round(float(v), 1) for v in detections.xyxy[0])


def link_track(job: VlmJob, bbox, at_ts: float) -> int | None:
    """The track whose box, in the sampled frame nearest `at_ts`, overlaps the VLM's box most (IoU ≥ 0.3)."""
    if bbox is None:
        return None
    frame = min(job.frames, key=lambda f: abs(f.wall_ts - at_ts))
    boxes = [b for b in frame.boxes if b.track_id is not None]
    if not boxes:
        return None
    ious = sv.box_iou_batch(np.array([bbox], dtype=float), np.array([b.xyxy for b in boxes], dtype=float))[0]
    best = int(np.argmax(ious))
    return boxes[best].track_id if ious[best] >= LINK_MIN_IOU else None
