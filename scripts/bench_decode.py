#!/usr/bin/env python
"""What decoding costs a camera, printed as one JSON document: CPU milliseconds per second of video (so 1000 is one
core) for H.264 at 768x576 and 1920x1080, 25 fps, 2 s keyframe interval, encoded as cameras encode (CABAC, deblocking;
without B-frames, as most cameras send, and with two), decoded by PyAV:

- every frame on one thread, against every frame with FFmpeg's frame/slice threads (`thread_type="AUTO"`);
- `skip_frame="NONREF"` (non-reference frames are not decoded: the B-frames of a stream that has them);
- `skip_frame="NONKEY"` (keyframes only: usable only where a camera is sampled no faster than its keyframes);
- the colour conversion of the 5 fps that are sampled for detection (`to_ndarray(format="bgr24")`).

The worker decodes every frame whatever it samples (the motion check and the recorder's timing need them), so
the figure sizes a box: cameras per core at 5 fps sampled = 1000 / (decode + conversion).

Usage: .venv/bin/python scripts/bench_decode.py [--smoke] [--seconds 20] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # testkit: the clip is made with the scene writer the tests use

from testkit.scenes import write_scene
from testkit.walkers import street_frames

BIKES = REPO / "data" / "samples" / "bikes.mp4"
FPS = 25
SAMPLED_FPS = 5.0
SIZES = {"768x576": (768, 576), "1920x1080": (1920, 1080)}
BITRATES = {"768x576": 1_000_000, "1920x1080": 4_000_000}  # what such cameras commonly send


def camera_clip(folder: Path, label: str, b_frames: int, seconds: float) -> Path:
    """bikes.mp4's street scaled to the camera's size with a sensor's noise, encoded like a camera's H.264 at its
    usual bit rate (not ultrafast: CABAC and the deblocking filter are on, and with the bit rate they are most of
    what decoding costs)."""
    width, height = SIZES[label]
    path = folder / f"camera-{label}-{FPS}fps-bf{b_frames}-{BITRATES[label] // 1000}k-{seconds:g}s.mp4"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    street = street_frames(BIKES, width, height)
    street = street + street[::-1]
    noise = np.random.default_rng(0)

    def render(t: float) -> np.ndarray:
        grain = noise.normal(0, 3, street[0].shape).astype(np.int16)
        return np.clip(street[round(t * FPS) % len(street)] + grain, 0, 255).astype(np.uint8)

    options = {
        "preset": "veryfast",
        "bf": str(b_frames),
        "g": str(2 * FPS),
        "keyint_min": str(2 * FPS),
        "sc_threshold": "0",
    }
    partial = write_scene(
        path.with_suffix(".partial.mp4"), seconds, render, width, height, FPS, options, BITRATES[label]
    )
    partial.replace(path)
    return path


def decode_cost(clip: Path, threads: bool, skip: str | None, convert_sampled: bool) -> dict:
    """CPU time of the whole process (FFmpeg's threads included) per second of video, and frames handed out."""
    cpu_before, wall_before = time.process_time(), time.perf_counter()
    decoded = converted = 0
    next_sample = 0.0
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO" if threads else "NONE"
        if not threads:
            stream.codec_context.thread_count = 1
        if skip:
            stream.codec_context.skip_frame = skip
        duration = float(stream.duration * stream.time_base)
        for frame in container.decode(stream):
            decoded += 1
            pts_s = float(frame.pts * stream.time_base)
            if convert_sampled and pts_s + 1e-6 >= next_sample:
                next_sample += 1.0 / SAMPLED_FPS
                frame.to_ndarray(format="bgr24")
                converted += 1
    cpu, wall = time.process_time() - cpu_before, time.perf_counter() - wall_before
    return {
        "cpu_ms_per_video_s": 1000 * cpu / duration,
        "wall_ms_per_video_s": 1000 * wall / duration,
        "frames": decoded,
        "converted": converted,
    }


MODES = {  # name: (threads, skip_frame, convert the sampled frames)
    "every_frame_one_thread": (False, None, False),
    "every_frame_threads": (True, None, False),
    "nonref_skipped_one_thread": (False, "NONREF", False),
    "keyframes_only_one_thread": (False, "NONKEY", False),
    "every_frame_one_thread_plus_5fps_bgr": (False, None, True),
}


def measure(clip: Path, runs: int) -> dict:
    out: dict[str, dict] = {}
    for name, (threads, skip, convert) in MODES.items():
        samples = [decode_cost(clip, threads, skip, convert) for _ in range(runs)]
        out[name] = {
            "cpu_ms_per_video_s": round(statistics.median(s["cpu_ms_per_video_s"] for s in samples), 1),
            "wall_ms_per_video_s": round(statistics.median(s["wall_ms_per_video_s"] for s in samples), 1),
            "frames": samples[0]["frames"],
        }
    base = out["every_frame_one_thread"]["cpu_ms_per_video_s"]
    total = out["every_frame_one_thread_plus_5fps_bgr"]["cpu_ms_per_video_s"]
    out["cameras_per_core_decode_and_5fps_bgr"] = round(1000 / total, 1) if total else None
    out["threads_cpu_over_one_thread"] = round(out["every_frame_threads"]["cpu_ms_per_video_s"] / base, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a short run of every part (make test)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each clip")
    parser.add_argument("--runs", type=int, default=3, help="runs of each mode; medians")
    args = parser.parse_args()
    seconds, runs = (2.0, 1) if args.smoke else (args.seconds, args.runs)
    folder = REPO / "data" / "bench"
    report: dict[str, object] = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "pyav": av.__version__,
            "ffmpeg": av.library_versions.get("libavcodec"),
        },
        "smoke": args.smoke,
        "fps": FPS,
        "sampled_fps": SAMPLED_FPS,
        "seconds": seconds,
        "runs": runs,
    }
    for label in SIZES:
        for b_frames in (0, 2):
            clip = camera_clip(folder, label, b_frames, seconds)
            report[f"{label}_bf{b_frames}"] = measure(clip, runs)
    print(json.dumps(report, indent=2, default=lambda value: np.asarray(value).tolist()))


if __name__ == "__main__":
    main()
