#!/usr/bin/env python
"""Benchmark the live path on a video file and, in the same run, a plain ultralytics `model.track` loop.

Usage: python scripts/bench_pipeline.py VIDEO [--weights models/yolo26n.pt] [--runs 3]
Prints one JSON document: medians over the runs of decode fps, detect ms per frame, track ms per update,
end-to-end fps, CPU use and peak RSS, and the baseline's fps with the ratio ours / baseline.
Both sides process every frame of the file with the same weights, image size and confidence.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import threading
import time
from pathlib import Path

import psutil

from streamer.config import CameraConfig, ModelSpec
from streamer.detect.detector import UltralyticsDetector
from streamer.detect.device import choose_device
from streamer.detect.tracker import CameraTracker
from streamer.frame import TrackedFrame
from streamer.runtime.worker import CameraWorker, WorkerOptions
from streamer.source.reader import VideoSource


def measure(fn) -> dict[str, float]:
    """Run fn, return its result with wall seconds, CPU share (100 = one core) and peak RSS of this process."""
    proc = psutil.Process()
    peak = [proc.memory_info().rss]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], proc.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    cpu_before, started = proc.cpu_times(), time.perf_counter()
    sampler.start()
    result = fn()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    cpu_after = proc.cpu_times()
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    return {"result": result, "wall_s": wall, "cpu_percent": 100 * cpu / wall, "peak_rss_mb": peak[0] / 2**20}


def camera_for(video: Path, weights: Path, fps: float) -> CameraConfig:
    return CameraConfig.model_validate({"url": str(video), "detect": {"fps": fps, "model": {"weights": str(weights)}}})


def decode_fps(video: Path, weights: Path, fps: float) -> float:
    source = VideoSource("bench", camera_for(video, weights, fps), threading.Event())
    started = time.perf_counter()
    count = sum(1 for _ in source.frames())
    return count / (time.perf_counter() - started)


def stage_timings(video: Path, weights: Path, fps: float, device: str) -> tuple[float, float]:
    camera = camera_for(video, weights, fps)
    frames = list(VideoSource("bench", camera, threading.Event()).frames())
    detector = UltralyticsDetector(ModelSpec(weights=str(weights)), weights.parent, device)
    detector.warm_up(frames[0].height, frames[0].width)
    tracker = CameraTracker(camera.tracker, fps)
    detect_ms, track_ms = [], []
    for frame in frames:
        started = time.perf_counter()
        (detections,) = detector.detect([frame.image])
        middle = time.perf_counter()
        tracker.update(detections, (frame.height, frame.width))
        detect_ms.append((middle - started) * 1000)
        track_ms.append((time.perf_counter() - middle) * 1000)
    return statistics.median(detect_ms), statistics.median(track_ms)


def ours_end_to_end(video: Path, weights: Path, fps: float) -> int:
    frames: list[TrackedFrame] = []
    options = WorkerOptions(weights.parent, stats_interval_s=3600, max_batch=1)
    CameraWorker("bench", camera_for(video, weights, fps), options, threading.Event(), sinks=[frames.append]).run()
    return len(frames)


def baseline_end_to_end(video: Path, weights: Path, device: str) -> int:
    from ultralytics import YOLO

    model = YOLO(str(weights), task="detect")
    count = 0
    for _ in model.track(source=str(video), stream=True, tracker="bytetrack.yaml", device=device, verbose=False, imgsz=640, conf=0.25):
        count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("--weights", type=Path, default=Path("models/yolo26n.pt"))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import av

    with av.open(str(args.video)) as container:
        stream = container.streams.video[0]
        native_fps = float(stream.average_rate)
        size = f"{stream.width}x{stream.height}"
    device = choose_device("auto")
    runs: dict[str, list[float]] = {k: [] for k in ("decode_fps", "ours_fps", "ours_cpu", "ours_rss", "base_fps", "base_cpu", "base_rss")}
    frames_ours = frames_base = 0
    for _ in range(args.runs):
        runs["decode_fps"].append(decode_fps(args.video, args.weights, native_fps))
        ours = measure(lambda: ours_end_to_end(args.video, args.weights, native_fps))
        base = measure(lambda: baseline_end_to_end(args.video, args.weights, device))
        frames_ours, frames_base = ours["result"], base["result"]
        runs["ours_fps"].append(frames_ours / ours["wall_s"])
        runs["base_fps"].append(frames_base / base["wall_s"])
        for side, m in (("ours", ours), ("base", base)):
            runs[f"{side}_cpu"].append(m["cpu_percent"])
            runs[f"{side}_rss"].append(m["peak_rss_mb"])
    detect_ms, track_ms = stage_timings(args.video, args.weights, native_fps, device)
    median = {k: round(statistics.median(v), 2) for k, v in runs.items()}
    print(json.dumps({
        "video": str(args.video), "size": size, "native_fps": native_fps, "weights": args.weights.name,
        "device": device, "runs": args.runs, "cpu_count": os.cpu_count(), "python": platform.python_version(),
        "decode_fps": median["decode_fps"],
        "detect_ms_per_frame": round(detect_ms, 2), "track_ms_per_update": round(track_ms, 3),
        "ours": {"frames": frames_ours, "end_to_end_fps": median["ours_fps"], "cpu_percent": median["ours_cpu"], "peak_rss_mb": median["ours_rss"]},
        "baseline_model_track": {"frames": frames_base, "end_to_end_fps": median["base_fps"], "cpu_percent": median["base_cpu"], "peak_rss_mb": median["base_rss"]},
        "ratio_ours_over_baseline": round(median["ours_fps"] / median["base_fps"], 3),
    }, indent=2))


if __name__ == "__main__":
    main()
