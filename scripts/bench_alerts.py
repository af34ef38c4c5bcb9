"""Alert path figures, printed as JSON (medians / percentiles, with a plain redis-py baseline in the same run):

- latency: frame capture (`wall_ts`) → XADD acknowledged of the `new` and `end` alerts, from `streamer run`
  replaying a file in real time as a live camera (`start_time: now`, `realtime: true`, looping), read from its
  "published" log records;
- publish throughput: alerts submitted one at a time through the spool (fsync) and the exactly-once script,
  against plain pipelined XADDs of the same payloads to the same server;
- spool flush: 10,000 alerts spooled while Redis is down, timed from the server's start until all are delivered.

Usage: .venv/bin/python scripts/bench_alerts.py data/samples/bikes.mp4 [--seconds 60] [--models models]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from streamer.alerts.embedded import EmbeddedRedis
from streamer.alerts.publisher import Publisher
from streamer.alerts.redis_access import connect
from streamer.alerts.spool import Spool, SpoolRecord

PAYLOAD = json.dumps(
    {
        "schema_version": 1,
        "event_id": "x",
        "camera": "bench",
        "type": "zone_intrusion",
        "state": "new",
        "label": "person",
        "track_id": 1,
        "start_ts": 1.0,
        "bbox_xyxy": [1, 2, 3, 4],
        "pad": "x" * 400,
    }
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def records(count: int, tag: str) -> list[SpoolRecord]:
    return [SpoolRecord(f"{tag}-{n}", ("bench:alerts", "bench:alerts:cam"), PAYLOAD, None) for n in range(count)]


def wait_delivered(publisher: Publisher, count: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while publisher.delivered < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {publisher.delivered} of {count} delivered")
        time.sleep(0.005)


def throughput(folder: Path, url: str, count: int) -> dict:
    publisher = Publisher("bench", Spool(folder / "throughput.jsonl"), url, "bench", 1_000_000, 3600).start()
    started = time.perf_counter()
    for record in records(count, f"tp{time.time_ns()}"):
        publisher.submit([record])  # one alert at a time, fsynced, as the live path submits them
    wait_delivered(publisher, count)
    ours = count / (time.perf_counter() - started)
    publisher.close(1.0)
    client = connect(url, 5.0)
    started = time.perf_counter()
    pipe = client.pipeline(transaction=False)
    for _ in range(count):
        for stream in ("bench:raw", "bench:raw:cam"):
            pipe.xadd(stream, {"data": PAYLOAD}, maxlen=1_000_000, approximate=True)
    pipe.execute()
    baseline = count / (time.perf_counter() - started)
    client.close()
    return {
        "alerts": count,
        "ours_per_s": round(ours),
        "baseline_xadd_pipeline_per_s": round(baseline),
        "ratio": round(ours / baseline, 3),
    }


def spool_flush(folder: Path, server: EmbeddedRedis, count: int) -> dict:
    server.stop()
    publisher = Publisher(
        "flush", Spool(folder / "flush.jsonl"), server.url, "bench", 1_000_000, 3600, timeout_s=0.5
    ).start()
    batch = records(count, f"fl{time.time_ns()}")
    for start in range(0, count, 500):
        publisher.submit(batch[start : start + 500])
    time.sleep(0.5)
    assert publisher.delivered == 0
    started = time.perf_counter()
    server.ensure_running()
    wait_delivered(publisher, count)
    seconds = time.perf_counter() - started
    publisher.close(1.0)
    return {"spooled": count, "flush_s_from_redis_start": round(seconds, 3), "per_s": round(count / seconds)}


def latency(folder: Path, video: Path, models: Path, seconds: float) -> dict:
    config = folder / "replay.yaml"
    config.write_text(f"""
storage_dir: {folder / "replay"}
models_dir: {models.resolve()}
logging: {{stats_interval_s: 5}}
cameras:
  replay:
    url: {video.resolve()}
    realtime: true
    loop: true
    start_time: now
    detect:
      fps: 5
      model: {{weights: yolo26n.pt, classes: [person, bicycle, car], confidence: 0.3}}
    zones:
      left: {{polygon: [[0, 0], [320, 0], [320, 272], [0, 272]]}}
      right: {{polygon: [[320, 0], [640, 0], [640, 272], [320, 272]]}}
    rules:
      - {{type: zone_intrusion, name: left, zone: left, classes: [person, bicycle, car],
          end_after_s: 0.4, cooldown_s: 0}}
      - {{type: zone_intrusion, name: right, zone: right, classes: [person, bicycle, car],
          end_after_s: 0.4, cooldown_s: 0}}
""")
    log_path = folder / "replay.log"
    with open(log_path, "w") as log_file:  # a file, not a pipe: a full pipe would block the service's logging
        process = subprocess.Popen(
            [sys.executable, "-m", "streamer", "run", "--config", str(config), "--log-format", "json"],
            stderr=log_file,
            stdout=subprocess.DEVNULL,
        )
        time.sleep(seconds)
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    log = log_path.read_text()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    # `new` and `end`: what the live path sends as it sees it (an event's clip is an `update` sent once the
    # recording covers the clip, seconds later by design, so updates are not latencies of the live path)
    latencies = [
        r["age_ms"]
        for r in lines
        if r.get("msg") == "published" and "age_ms" in r and r.get("id", "").endswith((":new", ":end"))
    ]
    if os.environ.get("BENCH_LOG"):
        Path(os.environ["BENCH_LOG"]).write_text(log)
    detect = [r["detect_ms"] for r in lines if r.get("msg") == "camera stats" and r.get("detect_ms")]
    if not latencies:
        return {"error": "no alerts published", "log_tail": log[-2000:]}
    return {
        "alerts": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "max_ms": round(max(latencies), 1),
        "baseline_detect_ms_per_frame_median": round(statistics.median(detect), 1) if detect else None,
        "replay_seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video", type=Path)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--models", type=Path, default=Path("models"))
    parser.add_argument("--alerts", type=int, default=5000)
    parser.add_argument("--spooled", type=int, default=10_000)
    parser.add_argument("--smoke", action="store_true", help="a short run of every part (make test): not figures")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.alerts, args.spooled = 15.0, 200, 500
    with tempfile.TemporaryDirectory(prefix="bench-alerts-") as tmp:
        folder = Path(tmp)
        server = EmbeddedRedis(folder / "redis")
        server.ensure_running()
        try:
            result = {
                "cpu_count": os.cpu_count(),
                "publish_throughput": throughput(folder, server.url, args.alerts),
                "spool_flush": spool_flush(folder, server, args.spooled),
            }
        finally:
            server.stop()
        result["latency_capture_to_xadd"] = latency(folder, args.video, args.models, args.seconds)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
