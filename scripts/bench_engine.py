#!/usr/bin/env python
"""Figures of the shared inference engine, printed as one JSON document, with baselines measured in the same run:

- equivalence: per backend, the engine's boxes against ultralytics' own `.pt` predictions on the same frames of
  bikes.mp4 (same class and IoU >= 0.9, both ways); int8 calibrated on the 768x576 clip below;
- runtime_ms: the OpenVINO runtime alone per frame at fp32, bf16 and int8;
- one_camera: every frame of a 768x576 10 fps clip through the engine process (letterbox in the worker, shared
  memory, batched inference, ByteTrack), against a plain `model.track(stream=True)` loop on the same file and weights;
- capacity: N cameras of that clip played at their own pace by `streamer run`, each detected at 5 fps; the largest
  N for which every camera keeps >= 95 % of 5 fps;
- demo: configs/example.yaml (yolo26n + the fall model) on bikes.mp4 at its own pace;
- startup: 4 cameras from `streamer run` to every camera streaming with its engine connected, and their total memory.

Usage: .venv/bin/python scripts/bench_engine.py [--smoke] [--cameras 2,4,6,8] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # testkit: the benchmark clip is made as the tests make theirs

from streamer.config import CameraConfig
from streamer.config.cameras import Backend, Precision
from streamer.config.engine import EngineConfig
from testkit.walkers import walkers_clip

MODELS = REPO / "models"
BIKES = REPO / "data" / "samples" / "bikes.mp4"
TARGET_FPS = 5.0


def models_calibrated_on(calibration: Path):  # noqa: ANN201 (the engine's modules are imported on use)
    from streamer.engine.models import LoadSettings, ModelRegistry

    return ModelRegistry(LoadSettings("cpu", MODELS / "cache", 8, (640, 640), None, (calibration,)))


def equivalence(variants: list[tuple[str, str]], frames_wanted: int, registry) -> dict:  # noqa: ANN001
    """Each runtime's boxes against ultralytics' `.pt` on bikes.mp4; int8 is calibrated on the registry's video (another
    video: bikes' tiny, distant cyclists are all held out), and its agreement on that video's held-out frames,
    measured when it was made, is given beside it."""
    import av
    from ultralytics import YOLO

    from streamer.engine.agreement import box_agreement
    from streamer.engine.geometry import InputGeometry, to_source_pixels
    from streamer.engine.models import ModelKey, NmsParams
    from streamer.engine.quantize import recorded_agreement

    with av.open(str(BIKES)) as container:
        frames = [f.to_ndarray(format="bgr24") for _, f in zip(range(frames_wanted), container.decode(video=0))]
    reference = [
        r.boxes.data.numpy() for r in YOLO(str(MODELS / "yolo26n.pt")).predict(frames, verbose=False, conf=0.25)
    ]
    geometry = InputGeometry(640)
    out = {}
    for backend, precision in variants:
        model = registry.get(ModelKey(str(MODELS / "yolo26n.pt"), Backend(backend), Precision(precision)))
        ours = []
        for start in range(0, len(frames), 8):
            chunk = frames[start : start + 8]
            found = model.infer([geometry.letterbox(f) for f in chunk], [NmsParams(0.25, 0.7, None)] * len(chunk))
            for frame, boxes in zip(chunk, found):
                input_hw = geometry.letterbox(frame).shape[:2]
                boxes[:, :4] = to_source_pixels(boxes[:, :4], input_hw, frame.shape[:2])
                ours.append(boxes)
        out[f"{backend}_{precision}"] = box_agreement(reference, ours).as_dict()
        if precision == "int8":
            out[f"{backend}_{precision}"]["held_out_of_its_calibration_video"] = recorded_agreement(model.artifact)
    return out


def runtime_ms(precisions: list[str], input_hw: tuple[int, int], runs: int, registry) -> dict:  # noqa: ANN001
    """Milliseconds a frame of the OpenVINO runtime alone (no decoding, no NMS) at the 768x576 cameras' input,
    one frame and a batch of 4 per call; medians of `runs` calls."""
    import numpy as np

    from streamer.engine.models import ModelKey

    out: dict[str, dict] = {}
    for precision in precisions:
        runner = registry.get(ModelKey(str(MODELS / "yolo26n.pt"), Backend.OPENVINO, Precision(precision))).runner
        out[precision] = {}
        for batch in (1, 4):
            frames = np.random.default_rng(0).integers(0, 255, (batch, *input_hw, 3), dtype=np.uint8)
            for _ in range(3):
                runner.run(frames)
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                runner.run(frames)
                times.append(time.perf_counter() - started)
            out[precision][f"batch_{batch}_ms_per_frame"] = round(1000 * statistics.median(times) / batch, 2)
    return out


def rate(stamps: list[float]) -> float:
    """Frames per second in steady state: from the first answer to the last (start-up and warm-up excluded)."""
    return (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0


PRECISIONS = ("fp32", "bf16", "int8")


def one_camera(clip: Path, limit: int | None, runs: int) -> dict:
    """Ours at fp32 (the CPU default), bf16 and int8, and the baseline, alternated `runs` times; medians."""
    samples: dict[str, list[dict]] = {**{precision: [] for precision in PRECISIONS}, "baseline": []}
    for _ in range(runs):
        for precision in PRECISIONS:
            samples[precision].append(ours_one_camera(clip, limit, precision))
        stamps = baseline_track(clip, samples["fp32"][-1]["frames"])
        samples["baseline"].append({"fps": rate(stamps)})
    base = statistics.median(run["fps"] for run in samples["baseline"])
    report: dict[str, object] = {
        "clip": clip.name,
        "frames": samples["fp32"][0]["frames"],
        "runs": runs,
        "baseline_model_track_fps": round(base, 2),
    }
    for precision in PRECISIONS:
        fps = statistics.median(run["fps"] for run in samples[precision])
        report[f"ours_{precision}_fps"] = round(fps, 2)
        report[f"ratio_{precision}_over_baseline"] = round(fps / base, 2) if base else None
        report[f"cpu_ms_per_frame_{precision}"] = {
            name: round(statistics.median(run["cpu_ms_per_frame"][name] for run in samples[precision]), 1)
            for name in ("worker", "engine")
        }
    return report


def ours_one_camera(clip: Path, limit: int | None, precision: str) -> dict:
    from streamer.engine.host import EngineHost
    from streamer.runtime.worker import CameraWorker, WorkerOptions

    camera = CameraConfig.model_validate(
        {
            "url": str(clip),
            "record": {"mode": "off"},
            "detect": {"fps": 10, "precision": precision, "model": {"weights": "yolo26n.pt"}},
        }
    )
    host = EngineHost({"bench": camera}, EngineConfig(), MODELS, ("warning", "text"), 3600)
    host.start()
    stamps: list[float] = []
    stop = threading.Event()

    class Stamp:
        def __call__(self, tracked) -> None:
            stamps.append(time.perf_counter())
            if limit is not None and len(stamps) >= limit:
                stop.set()

        def close(self) -> None:
            pass

    try:
        options = WorkerOptions(MODELS, stats_interval_s=3600)
        worker = CameraWorker("bench", camera, options, stop, sinks=[Stamp()], engine=host.link("bench"))
        processes = {"worker": psutil.Process(), "engine": psutil.Process(host.pids[0])}
        before = {name: cpu_seconds(process) for name, process in processes.items()}
        worker.run()
        cpu = {name: cpu_seconds(process) - before[name] for name, process in processes.items()}
    finally:
        host.stop()
    return {
        "frames": len(stamps),
        "fps": rate(stamps),
        "cpu_ms_per_frame": {name: 1000 * seconds / len(stamps) for name, seconds in cpu.items()},
    }


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def baseline_track(clip: Path, limit: int) -> list[float]:
    from ultralytics import YOLO

    model = YOLO(str(MODELS / "yolo26n.pt"), task="detect")
    stamps = []
    for _ in model.track(source=str(clip), stream=True, tracker="bytetrack.yaml", verbose=False, imgsz=640, conf=0.25):
        stamps.append(time.perf_counter())
        if len(stamps) >= limit:
            break
    return stamps


def run_service(
    config: dict, folder: Path, seconds: float, sample_rss_at: float | None = None, stop_after: float | None = None
) -> dict:
    """`streamer run` on a generated config with JSON logs; its records, and the memory of its process tree.
    `stop_after`: stopped (SIGTERM, as a user stops it) that many seconds after its start, for looping sources."""
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    log_path = folder / "service.log"
    started = time.monotonic()
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "streamer"), "run", "--config", str(path), "--log-format", "json"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=folder,
        )
        memory = None
        try:
            if sample_rss_at is not None:
                time.sleep(sample_rss_at)
                memory = tree_memory(proc.pid)
            if stop_after is not None:
                try:
                    proc.wait(timeout=max(0.0, stop_after - (time.monotonic() - started)))
                except subprocess.TimeoutExpired:
                    proc.terminate()
            proc.wait(timeout=seconds + 240)
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(20)
    records = []
    for line in log_path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            pass
    return {
        "records": records,
        "started_wall": time.time() - (time.monotonic() - started),
        "memory": memory,
        "exit_code": proc.returncode,
    }


def tree_memory(pid: int) -> dict:
    root = psutil.Process(pid)
    rows = []
    for process in [root, *root.children(recursive=True)]:
        try:
            info = process.memory_full_info()
            rows.append((process.name(), " ".join(process.cmdline()[1:3]), info.rss, info.uss))
        except psutil.Error:
            pass
    return {
        "processes": len(rows),
        "rss_mb_total": round(sum(r[2] for r in rows) / 2**20),
        "uss_mb_total": round(sum(r[3] for r in rows) / 2**20),
        "by_process": [{"name": n, "rss_mb": round(r / 2**20), "uss_mb": round(u / 2**20)} for n, _, r, u in rows],
    }


def service_config(folder: Path, cameras: dict) -> dict:
    return {
        "version": 1,
        "storage_dir": str(folder / "data"),
        "models_dir": str(MODELS),
        "api": {"enabled": False},
        "logging": {"level": "info", "format": "json", "stats_interval_s": 1.0},
        "cameras": cameras,
    }


def walker_cameras(clip: Path, count: int) -> dict:
    return {
        f"cam{n}": {
            "url": str(clip),
            "realtime": True,
            "start_time": "now",
            "detect": {"fps": TARGET_FPS, "model": {"weights": "yolo26n.pt", "classes": ["person", "car", "bicycle"]}},
            "record": {"mode": "off"},
        }
        for n in range(count)
    }


def steady_fps(records: list[dict]) -> dict[str, float]:
    """Per camera: the median sampled fps (frames tracked, whether the motion gate let the detector run or not) of
    its stats lines while streaming, the first and last dropped."""
    lines: dict[str, list[float]] = {}
    for record in records:
        if record.get("msg") == "camera stats" and record.get("state") == "streaming":
            lines.setdefault(record["camera"], []).append(float(record["fps_sampled"]))  # every frame tracked
    return {camera: round(statistics.median(values[1:-1] or values), 2) for camera, values in lines.items()}


def capacity(clip: Path, counts: list[int], seconds: float) -> dict:
    rows = []
    best = 0
    for count in counts:
        with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
            result = run_service(service_config(Path(tmp), walker_cameras(clip, count)), Path(tmp), seconds)
        fps = steady_fps(result["records"])
        engine = [r for r in result["records"] if r.get("msg") == "engine stats" and r.get("frames", 0) > 0]
        ok = len(fps) == count and min(fps.values()) >= 0.95 * TARGET_FPS
        rows.append(
            {
                "cameras": count,
                "min_fps": min(fps.values()) if fps else 0.0,
                "per_camera_fps": fps,
                "keeps_95pct": ok,
                "engine_batch_mean": round(statistics.median(r["batch_mean"] for r in engine), 2) if engine else None,
                "engine_infer_ms_frame": round(statistics.median(r["infer_ms_frame"] for r in engine), 2)
                if engine
                else None,
                "drops": sum(
                    r.get("drops", 0)
                    for r in result["records"]
                    if r.get("msg") == "camera stats" and r.get("progress") == "100%"
                ),
            }
        )
        if ok:
            best = count
    return {"target_fps": TARGET_FPS, "runs": rows, "max_cameras_at_95pct": best}


def demo() -> dict:
    config = yaml.safe_load((REPO / "configs" / "example.yaml").read_text())
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        camera = config["cameras"]["street"]
        camera.update({"url": str(BIKES), "realtime": True})
        config.update(
            {
                "storage_dir": str(Path(tmp) / "data"),
                "models_dir": str(MODELS),
                "api": {"enabled": False},
                "logging": {"level": "info", "format": "json", "stats_interval_s": 1.0},
            }
        )
        result = run_service(config, Path(tmp), 10)
    fps = steady_fps(result["records"])
    return {"config": "configs/example.yaml (realtime: true)", "fps_detected": fps.get("street"), "target_fps": 5.0}


def startup(clip: Path, count: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-start-") as tmp:
        result = run_service(service_config(Path(tmp), walker_cameras(clip, count)), Path(tmp), 20, sample_rss_at=12)
    seconds = seconds_to_all_streaming(result["records"], result["started_wall"], count)
    return {"cameras": count, "seconds_to_all_streaming": seconds, "memory_at_12s": result["memory"]}


def seconds_to_all_streaming(records: list[dict], started: float, count: int) -> float | None:
    """From `streamer run`'s start to the last of `count` cameras streaming with its engine connected."""
    ready: dict[str, dict[str, float]] = {}
    for record in records:
        if record.get("msg") == "engine connected" or (
            record.get("msg") == "source state" and record.get("state") == "streaming"
        ):
            ready.setdefault(record.get("camera"), {})[record["msg"]] = parse_ts(record["ts"])
    done = [max(v.values()) for v in ready.values() if len(v) == 2]
    return round(max(done) - started, 2) if len(done) == count else None


def parse_ts(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a short run of every part (make test)")
    parser.add_argument("--cameras", default="4,6,7,8", help="camera counts for the capacity search")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the 768x576 clip")
    parser.add_argument("--runs", type=int, default=3, help="one-camera runs of ours and of the baseline, alternated")
    args = parser.parse_args()
    seconds = 4.0 if args.smoke else args.seconds
    clip = walkers_clip(REPO / "data" / "bench", BIKES, seconds=seconds)
    calibration = walkers_clip(REPO / "data" / "bench", BIKES, seconds=20.0)  # int8's, in smoke runs too
    registry = models_calibrated_on(calibration)  # each model loaded once for the checks and the runtime figures
    counts = [1] if args.smoke else [int(n) for n in args.cameras.split(",")]
    report = {
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "smoke": args.smoke,
        "equivalence_iou_0_9": equivalence(
            [("openvino", "fp32"), ("openvino", "int8")]
            if args.smoke
            else [
                ("openvino", "fp32"),
                ("onnxruntime", "fp32"),
                ("pytorch", "fp32"),
                ("openvino", "bf16"),
                ("openvino", "int8"),
            ],
            8 if args.smoke else 250,
            registry,
        ),
        "runtime_ms_768x576": runtime_ms(list(PRECISIONS), (480, 640), 5 if args.smoke else 50, registry),
        "one_camera_every_frame": one_camera(clip, 20 if args.smoke else None, 1 if args.smoke else args.runs),
        "capacity": capacity(clip, counts, seconds),
    }
    if not args.smoke:
        report["demo"] = demo()
        report["startup"] = startup(clip, 4)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
