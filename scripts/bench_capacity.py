#!/usr/bin/env python
"""How many cameras a machine holds, printed as one JSON document, motion-gated against ungated in the same run:

- quiet site: N cameras replaying the quiet scene live (testkit/quiet.py: a still 768x576 street with sensor
  noise and a cloud, one person crossing a minute, at a different moment on each of four variants), each
  detected at 5 fps with a zone-intrusion rule, through `streamer run` with its shared engine. Per N and mode:
  the slowest camera's sampled fps (frames
  tracked a second), the part of sampled frames the detector ran on, frames dropped for lack of time, and every
  crossing: alerted or not, and its frame-to-alert latency (the event's log line against the frame it starts at).
  A count "keeps up" when every crossing is alerted within 2.5 s, the p95 latency is <= 2 s and <= 1 % of the
  sampled frames were dropped; the largest such count is the figure;
- busy scene: the same for the walking people (testkit/walkers.py: something moves all the time), where
  gating must cost nothing;
- memory: USS and RSS of each process (supervisor, engine, workers) at the largest quiet count, and the start-up
  time until every camera streams with its engine connected.

Usage: .venv/bin/python scripts/bench_capacity.py [--smoke] [--quiet 8,12,16] [--busy 4,6] [--seconds 60]
       [--precision auto|fp32|bf16|int8] [--parts quiet,busy,memory]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scripts.bench_engine import (
    BIKES,
    parse_ts,
    run_service,
    seconds_to_all_streaming,
    service_config,
    steady_fps,
)
from testkit.quiet import HEIGHT, WIDTH, QuietTruth, quiet_scene
from testkit.walkers import walkers_clip

TARGET_FPS = 5.0
ALERT_WITHIN_S = 2.5
RIGHT_HALF = {"polygon": [[WIDTH // 2, 0], [WIDTH, 0], [WIDTH, HEIGHT], [WIDTH // 2, HEIGHT]]}


WALKS_AT = (8.0, 20.0, 32.0, 44.0)  # the crossing's start in each variant of the scene: cameras do not all see
# their person at once, as on a real site (the first camera's variant crosses at 8 s, the next at 20 s, ...)


def quiet_variants() -> list[tuple[Path, QuietTruth]]:
    truths = [QuietTruth(seconds=60.0, walk=(at, at + 9.0), infrared_at=1e9) for at in WALKS_AT]
    return [(quiet_scene(REPO / "data" / "bench", BIKES, truth), truth) for truth in truths]


def cameras(clips: list[Path], count: int, gated: bool, precision: str) -> dict:
    return {
        f"cam{n:02d}": {
            "url": str(clips[n % len(clips)]),
            "loop": True,
            "realtime": True,
            "start_time": "now",
            "detect": {
                "fps": TARGET_FPS,
                "model": {"weights": "yolo26n.pt", "classes": ["person"]},
                "motion": {"enabled": gated},
                "precision": precision,
            },
            "zones": {"right": RIGHT_HALF},
            "rules": [{"type": "zone_intrusion", "zone": "right", "min_inside_s": 0.0, "end_after_s": 1.0}],
            "record": {"mode": "off"},
            "live_every_s": 0,
        }
        for n in range(count)
    }


def last_stats(records: list[dict]) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for record in records:
        if record.get("msg") == "camera stats":
            found[record["camera"]] = record
    return found


def crossings(records: list[dict], started: float, seconds: float, truths: list[QuietTruth]) -> dict:
    """Each camera's replay crosses at `enters_zone_at` of every loop: which loops were alerted, and how late."""
    first_frame = {}
    for record in records:
        if record.get("msg") == "source state" and record.get("state") == "streaming":
            first_frame.setdefault(record["camera"], parse_ts(record["ts"]))
    news = [r for r in records if r.get("msg") == "event" and r.get("state") == "new"]
    latencies, missed, expected = [], 0, 0
    for camera, begun in first_frame.items():
        truth = truths[int(camera.removeprefix("cam")) % len(truths)]
        mine = sorted((parse_ts(r["start"]), parse_ts(r["ts"])) for r in news if r["camera"] == camera)
        loop = 0
        while begun + loop * truth.seconds + truth.enters_zone_at + ALERT_WITHIN_S < started + seconds:
            due = begun + loop * truth.seconds + truth.enters_zone_at
            expected += 1
            match = [said - start for start, said in mine if abs(start - due) <= 1.0]
            if match:
                latencies.append(match[0])
            else:
                missed += 1
            loop += 1
    on_time = sum(1 for s in latencies if s <= ALERT_WITHIN_S)
    p95 = sorted(latencies)[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))] if latencies else None
    return {
        "expected": expected,
        "alerted": len(latencies),
        "missed": missed,
        "on_time": on_time,
        "latency_p50_s": round(statistics.median(latencies), 2) if latencies else None,
        "latency_p95_s": round(p95, 2) if p95 is not None else None,
        "cameras_streaming": len(first_frame),
    }


def one_run(
    clips: list[Path],
    count: int,
    gated: bool,
    seconds: float,
    truths: list[QuietTruth] | None,
    memory_at: float | None,
    precision: str = "auto",
) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-capacity-") as tmp:
        config = service_config(Path(tmp), cameras(clips, count, gated, precision))
        result = run_service(config, Path(tmp), 30.0, sample_rss_at=memory_at, stop_after=seconds)
    records = result["records"]
    sampled = steady_fps(records)
    final = last_stats(records)
    total_sampled = sum(int(r.get("sampled", 0)) for r in final.values())
    total_detected = sum(int(r.get("detected", 0)) for r in final.values())
    drops = sum(int(r.get("drops", 0)) for r in final.values())
    row = {
        "cameras": count,
        "gated": gated,
        "min_fps_sampled": round(min(sampled.values()), 2) if sampled else 0.0,
        "detected_share": round(total_detected / total_sampled, 3) if total_sampled else None,
        "dropped_share": round(drops / max(total_sampled + drops, 1), 4),
        "busy_cameras": sum(1 for r in final.values() if r.get("motion") == "busy"),
        "exit_code": result["exit_code"],
    }
    if truths is not None:
        row["crossings"] = crossings(records, result["started_wall"], seconds, truths)
        c = row["crossings"]
        row["keeps_up"] = (
            bool(c["expected"])
            and c["on_time"] == c["expected"]
            and (c["latency_p95_s"] or 99) <= 2.0
            and row["dropped_share"] <= 0.01
        )
    else:
        row["keeps_up"] = len(sampled) == count and row["min_fps_sampled"] >= 0.95 * TARGET_FPS
    if memory_at is not None:
        row["memory"] = result["memory"]
        row["startup_s"] = seconds_to_all_streaming(records, result["started_wall"], count)
    return row


def search(
    clips: list[Path], counts: list[int], seconds: float, truths: list[QuietTruth] | None, precision: str
) -> dict:
    rows = [one_run(clips, n, gated, seconds, truths, None, precision) for n in counts for gated in (False, True)]
    best = {
        mode: max([r["cameras"] for r in rows if r["gated"] == (mode == "gated") and r["keeps_up"]], default=0)
        for mode in ("ungated", "gated")
    }
    return {"runs": rows, "most_cameras_keeping_up": best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--smoke", action="store_true", help="one gated quiet camera up to its first crossing (make test)"
    )
    parser.add_argument("--quiet", default="8,12,16", help="camera counts of the quiet site")
    parser.add_argument("--busy", default="4,7", help="camera counts of the busy scene")
    parser.add_argument("--seconds", type=float, default=64.0, help="how long each count runs")
    parser.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16", "int8"],
        help="the detector's precision (int8: calibrated on the benchmark's clips)",
    )
    parser.add_argument("--parts", default="quiet,busy,memory", help="which parts to run (not in --smoke)")
    args = parser.parse_args()
    if args.smoke:  # a short variant of the scene: its crossing comes early
        truth = QuietTruth(seconds=16.0, walk=(2.0, 11.0), infrared_at=1e9)
        clip = quiet_scene(REPO / "data" / "bench", BIKES, truth)
        report = {"smoke": True, "quiet": {"runs": [one_run([clip], 1, True, truth.enters_zone_at + 6, [truth], None)]}}
    else:
        variants = quiet_variants()
        clips, truths = [clip for clip, _ in variants], [truth for _, truth in variants]
        busy = [walkers_clip(REPO / "data" / "bench", BIKES, seconds=20.0)]
        counts = [int(n) for n in args.quiet.split(",")]
        parts = args.parts.split(",")
        report = {"smoke": False, "precision": args.precision}
        if "quiet" in parts:
            report["quiet"] = search(clips, counts, args.seconds, truths, args.precision)
        if "busy" in parts:
            report["busy"] = search(busy, [int(n) for n in args.busy.split(",")], 30.0, None, args.precision)
        if "memory" in parts:
            report["memory"] = {
                str(n): one_run(clips, n, True, 30.0, None, 25.0, args.precision) for n in (1, counts[-1])
            }
    report["machine"] = {"cpu_count": os.cpu_count(), "python": platform.python_version()}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
