#!/usr/bin/env python
"""How fast a VLM window is read out of a recorded segment, printed as one JSON document: frames at 2 fps out of a
10 s window of a 60 s MP4 segment (H.264 1280x720, 25 fps, a keyframe every 2 s, as cameras record), the read that
the VLM stage's grounding and `streamer dataset export` make for every window (streamer/record/sample.py).

- `pyav_from_start`: decode from the segment's start up to the window's end (how it was read before);
- `pyav_seek`: seek to the keyframe before the window, decode to its end, convert only the frames kept (now);
- `decord`: decord's VideoReader (what qwen-vl-utils prefers), its frame index built on open, `get_batch` of
  the frames nearest each slot.

Each is timed on windows at the segment's start, middle and end, `--runs` times each (medians, milliseconds per
window, the file opened anew every time as a query does); every method must return the same frame times.

Usage: .venv/bin/python scripts/bench_window_read.py [--smoke] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from streamer.record.sample import read_segment

BIKES = REPO / "data" / "samples" / "bikes.mp4"
FPS, GOP, SIZE = 25, 50, (1280, 720)
SAMPLE_FPS, WINDOW_S = 2.0, 10.0


def segment(folder: Path, seconds: float) -> Path:
    """bikes.mp4's street at 1280x720 for `seconds`, H.264 with a keyframe every 2 s (cached)."""
    path = folder / f"segment-{SIZE[0]}x{SIZE[1]}-{FPS}fps-gop{GOP}-{seconds:g}s.mp4"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    with av.open(str(BIKES)) as source:
        street = [cv2.resize(f.to_ndarray(format="bgr24"), SIZE) for f in source.decode(video=0)]
    street = street + street[::-1]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        stream.codec_context.gop_size = GOP
        stream.options = {"preset": "veryfast", "bf": "0", "sc_threshold": "0", "keyint_min": str(GOP)}
        stream.codec_context.time_base = Fraction(1, FPS)
        for number in range(round(seconds * FPS)):
            frame = av.VideoFrame.from_ndarray(street[number % len(street)], format="bgr24")
            frame.pts = number
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def pyav_from_start(path: Path, start_s: float, end_s: float) -> list[float]:
    """The earlier read: every frame decoded from the segment's start."""
    step, kept = 1.0 / SAMPLE_FPS, {}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            at = float(frame.pts * stream.time_base)
            if at >= end_s + step:
                break
            slot = round(at / step)
            if start_s <= slot * step < end_s and abs(at - slot * step) <= step / 2:
                if slot not in kept or abs(at - slot * step) < abs(kept[slot][0] - slot * step):
                    kept[slot] = (at, frame.to_ndarray(format="bgr24"))
    return [kept[s][0] for s in sorted(kept)]


def pyav_seek(path: Path, start_s: float, end_s: float) -> list[float]:
    with av.open(str(path)) as container:
        best = read_segment(container, 0.0, start_s, end_s, SAMPLE_FPS, {})
        for _, frame in best.values():
            frame.to_ndarray(format="bgr24")
        return [round(best[slot][0], 3) for slot in sorted(best)]


def decord_read(path: Path, start_s: float, end_s: float) -> list[float]:
    import decord

    reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
    times = reader.get_frame_timestamp(range(len(reader)))[:, 0]
    step, wanted = 1.0 / SAMPLE_FPS, []
    slot = int(np.ceil(start_s / step - 1e-6))
    while slot * step < end_s:
        gaps = np.abs(times - slot * step)
        index = int(np.flatnonzero(gaps <= gaps.min() + 1e-4)[0])  # the earlier of two equally near, as PyAV's
        if abs(times[index] - slot * step) <= step / 2:
            wanted.append(index)
        slot += 1
    reader.get_batch(wanted).asnumpy()
    return [round(float(times[i]), 3) for i in wanted]


METHODS = {"pyav_from_start": pyav_from_start, "pyav_seek": pyav_seek, "decord": decord_read}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--smoke", action="store_true", help="a 20 s segment, one run: proves the script runs")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    seconds, runs = (20.0, 1) if args.smoke else (60.0, args.runs)
    path = segment(REPO / "data" / "bench", seconds)
    windows = {"start": 0.0, "middle": seconds / 2 - WINDOW_S / 2, "end": seconds - WINDOW_S}
    results: dict[str, dict[str, float]] = {}
    for name, read in METHODS.items():
        results[name] = {}
        for where, start in windows.items():
            took, times = [], None
            for _ in range(runs):
                began = time.perf_counter()
                times = read(path, start, start + WINDOW_S)
                took.append((time.perf_counter() - began) * 1000)
            expected = pyav_from_start(path, start, start + WINDOW_S)
            if [round(t, 2) for t in times] != [round(t, 2) for t in expected]:
                raise SystemExit(f"{name} read other frames at {where}: {times} != {expected}")
            results[name][f"{where}_ms"] = round(statistics.median(took), 1)
    print(
        json.dumps(
            {
                "segment": {
                    "seconds": seconds,
                    "size": f"{SIZE[0]}x{SIZE[1]}",
                    "fps": FPS,
                    "keyframe_every_s": GOP / FPS,
                },
                "window": {"seconds": WINDOW_S, "sampled_fps": SAMPLE_FPS, "frames": int(WINDOW_S * SAMPLE_FPS)},
                "runs": runs,
                "median_ms_per_window": results,
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "pyav": av.__version__},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
