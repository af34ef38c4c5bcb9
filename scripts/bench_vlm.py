"""VLM stage figures, printed as JSON (medians of --repeats):

- vision tokens per job at the default sampling (2 fps, 3 s pre and post, max_pixels 192×28×28), from the real
  Qwen2.5-VL processor's `video_grid_thw`, for this video's size and for a 1080p camera, for a short event and
  for the longest clip (30 s);
- jobs per second through the whole plumbing (Redis queue → worker → parse → alert → ack) with the scripted test
  double (the plumbing alone) and with the tiny random Qwen2.5-VL on the CPU (the real transformers path);
- queue latency: from a job's creation to a worker taking it, with one idle worker waiting.

Usage: python scripts/bench_vlm.py data/samples/bikes.mp4 [--jobs 20] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from streamer.config.vlm import SamplingConfig, TransformersConfig
from streamer.vlm.backends.local import TransformersBackend
from streamer.vlm.frames import model_size
from streamer.vlm.worker import build_request
from testkit.redis_server import RedisServer
from testkit.tiny_qwen import build_tiny_model, qwen_tokenizer_json
from testkit.vlm import announce, answer, answers, make_job, video_frames, vlm_config, worker_for


def vision_tokens(backend: TransformersBackend, storage: Path, video: Path) -> dict:
    import cv2
    import numpy as np

    sampling = SamplingConfig()
    out = {}
    for name, (w, h) in {"this_video_640x272": (640, 272), "camera_1920x1080": (1920, 1080)}.items():
        size = model_size(w, h, sampling)
        for label, seconds in {"short_event_8s": 8.0, "longest_clip_30s": sampling.max_window_s}.items():
            frames = int(seconds * sampling.fps)
            base = video_frames(video, 1, size=size)[0]
            images = [np.ascontiguousarray(cv2.flip(base, 1) if i % 2 else base) for i in range(frames)]
            job = make_job(storage, images, event_id=f"lobby-{name}-{label}".replace("_", "-"))
            inputs = backend.prepare([build_request(job, storage, vlm_config(storage), None)])
            t, gh, gw = inputs["video_grid_thw"][0].tolist()
            out[f"{name}/{label}"] = {
                "model_input_wh": list(size),
                "frames": frames,
                "video_grid_thw": [t, gh, gw],
                "vision_tokens": t * gh * gw // 4,
                "prompt_tokens": int(inputs["input_ids"].shape[1]),
            }
    return out


def throughput(client, storage: Path, backend, jobs: int, images, batch: int) -> float:
    config = vlm_config(storage, batch=batch)
    worker = worker_for(client, storage, backend, config, consumer=f"bench-{time.monotonic_ns()}")
    client.flushdb()
    for number in range(jobs):
        event_id = f"lobby-{number:04d}"
        announce(client, event_id)
        worker.queue.enqueue(make_job(storage, images, event_id=event_id))
    started = time.perf_counter()
    done = worker.run(lambda: False, max_jobs=jobs)
    elapsed = time.perf_counter() - started
    assert done == jobs
    return jobs / elapsed


def queue_latency(client, storage: Path, images, samples: int) -> list[float]:
    """A worker blocked on an empty queue; each job is enqueued then timed until it is taken."""
    import threading

    config = vlm_config(storage)
    backend = answers({"*": [answer(start=1.0, end=2.0)]})
    worker = worker_for(client, storage, backend, config, consumer="latency")
    client.flushdb()
    worker.queue.ensure_group()
    taken_at: dict[str, float] = {}
    original = worker.process

    def timed(taken):
        for item in taken:
            taken_at[item.job.job_id] = time.time()
        original(taken)

    worker.process = timed
    thread = threading.Thread(target=worker.run, args=(lambda: len(taken_at) >= samples,), daemon=True)
    thread.start()
    created = {}
    for number in range(samples):
        event_id = f"lobby-lat{number:03d}"
        announce(client, event_id)
        job = make_job(storage, images, event_id=event_id)
        job = type(job)(**{**job.__dict__, "created_ts": time.time()})
        created[job.job_id] = job.created_ts
        worker.queue.enqueue(job)
        time.sleep(0.05)
    thread.join(30)
    return [(taken_at[j] - created[j]) * 1000 for j in created if j in taken_at]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("video", type=Path)
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="a short run of every part (make test): not figures")
    args = parser.parse_args()
    if args.smoke:
        args.jobs, args.repeats = 4, 1
    with tempfile.TemporaryDirectory() as scratch:
        storage = Path(scratch)
        folder = build_tiny_model(storage / "tiny", qwen_tokenizer_json(REPO / "models" / "test"))
        tiny = TransformersBackend.load(TransformersConfig(model=str(folder), device="cpu", max_new_tokens=32))
        server = RedisServer(storage / "redis").start()
        client = server.client()
        try:
            images = video_frames(args.video, 16)  # an 8 s clip at 2 fps, 504×224
            scripted = [
                throughput(client, storage, answers({"*": [answer(start=1.0, end=2.0)]}), args.jobs, images, 4)
                for _ in range(args.repeats)
            ]
            tiny_1 = [throughput(client, storage, tiny, max(4, args.jobs // 4), images, 1) for _ in range(args.repeats)]
            tiny_4 = [throughput(client, storage, tiny, max(4, args.jobs // 4), images, 4) for _ in range(args.repeats)]
            latency = queue_latency(client, storage, images, 20)
            report = {
                "video": str(args.video),
                "repeats": args.repeats,
                "vision_tokens_default_sampling": vision_tokens(tiny, storage, args.video),
                "jobs_per_s": {
                    "scripted_test_double_plumbing": round(statistics.median(scripted), 1),
                    "tiny_qwen2_5_vl_cpu_batch1": round(statistics.median(tiny_1), 2),
                    "tiny_qwen2_5_vl_cpu_batch4": round(statistics.median(tiny_4), 2),
                },
                "queue_latency_ms": {
                    "median": round(statistics.median(latency), 1),
                    "p90": round(sorted(latency)[int(0.9 * (len(latency) - 1))], 1),
                    "samples": len(latency),
                },
            }
        finally:
            client.close()
            server.stop()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
