"""Frames from the recordings at a chosen rate: for each 1/fps slot of wall-clock time in a range, the recorded
frame nearest the slot, with its true time (from its PTS). This is how stored footage is shown to the VLM."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from sqlalchemy import Connection

from streamer.index import store
from streamer.media.files import MediaFiles, as_files


@dataclass(frozen=True, eq=False)
class RecordedFrame:
    wall_ts: float
    image: np.ndarray  # BGR, source size


def slot_range(start_ts: float, end_ts: float, step: float) -> range:
    """The wall-clock slots of `step` seconds whose start lies in [start, end): every clip of a camera is sampled
    on the same absolute grid."""
    return range(math.ceil(start_ts / step - 1e-6), math.ceil(end_ts / step - 1e-6))


def sample_recording(
    storage: Path | MediaFiles, conn: Connection, camera: str, start_ts: float, end_ts: float, fps: float
) -> list[RecordedFrame]:
    """Frames whose slot lies in [start, end), in time order; slots with no frame near them (a gap) are empty."""
    step = 1.0 / fps
    best: dict[int, tuple[float, av.VideoFrame]] = {}
    files = as_files(storage)
    for segment in store.segments_overlapping(conn, camera, start_ts - step, end_ts + step):
        with av.open(files.source(segment.path)) as container:
            read_segment(container, segment.start_ts - segment.media_start_s, start_ts, end_ts, fps, best)
            for slot, (wall, frame) in best.items():  # converted once each, the nearest only
                if isinstance(frame, av.VideoFrame):
                    best[slot] = (wall, frame.to_ndarray(format="bgr24"))
    return [RecordedFrame(*best[slot]) for slot in sorted(best)]


def read_segment(
    container, origin: float, start_ts: float, end_ts: float, fps: float, best: dict[int, tuple[float, object]]
) -> dict[int, tuple[float, object]]:
    """Into `best`, for each slot of [start, end), the frame of this segment nearest the slot, if nearer than the
    one held: (its wall time, the decoded frame). `origin` is the wall time of media time 0. It seeks to the
    keyframe before the window instead of decoding the segment from its start (docs/figures.md#recordings-read-back,
    scripts/bench_window_read.py)."""
    step = 1.0 / fps
    slots = slot_range(start_ts, end_ts, step)
    stream = container.streams.video[0]
    seek_s = slots.start * step - step / 2 - origin
    if seek_s > 0 and stream.time_base is not None:
        container.seek(int(seek_s / stream.time_base), stream=stream, backward=True)
    for frame in container.decode(stream):
        if frame.pts is None:
            continue
        wall = origin + float(frame.pts * stream.time_base)
        if wall >= end_ts + step:
            break
        slot = round(wall / step)
        if slot not in slots or abs(wall - slot * step) > step / 2:
            continue
        held = best.get(slot)
        if held is None or abs(wall - slot * step) < abs(held[0] - slot * step):
            best[slot] = (wall, frame)
    return best
