"""The fault harness: real servers on 127.0.0.1 (GStreamer RTSP, redis-server, `streamer serve`), faults injected
in bounded counts and times, one JSON document of figures on stdout.

Scenarios (full run / --smoke):
- rtsp: an RTSP server SIGKILLed for 2, 5, 20 and 60 s, 5 times each / 2 s once: seconds from its return
  to the camera's next frame, worker restarts, the other camera's detected fps meanwhile;
- corrupt: 0.1, 1 and 5 % of a clip's media bytes overwritten, played as a file and streamed live over RTSP:
  crashes (must be 0), frames decoded against the clean clip;
- redis: redis-server SIGKILLed 5 times while 10,000 alerts are produced / twice over 2,000: lost and
  duplicated (must be 0), the outage lengths reported on health against the true ones;
- tail: a `streamer alerts tail --group` consumer SIGKILLed 10 times over 10,000 alerts / 3 over 1,000: missing
  (must be 0);
- configs: 10,000 generated configs and the hostile cases / 300: tracebacks, hangs over 2 s and errors that name
  no field (all must be 0);
- api: the API fuzzed from its OpenAPI schema and with traversal and overflow cases: 5xx and leaks (must be 0);
- soak: 4 looping cameras for 30 minutes / 2 for 20 s: RSS slope per hour, file descriptors, threads and
  shared-memory segments per process;
- security: the API probed as an attacker would (DNS rebinding in open and users mode, the first user closing an
  open server, a 1 GB login body, open redirects, camera secrets and names to viewers, the cut cache, stale tokens,
  sessions and streams, a malformed Last-Event-ID, 40 parallel guesses, X-Forwarded-For, strangers locking a user
  out, headers and /docs, Ctrl-C with SIGINT ignored): probes still open (must be 0); figures of the 1 GB body's
  memory, the parallel guesses, and 400 / 50 alert feeds held open.

Exit status 1 when an invariant ("must be 0") is broken; the timings are figures, never a pass mark.
Usage: .venv/bin/python scripts/chaos.py [--smoke] [--only rtsp,redis,...] [--soak-minutes 30]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.chaos_parts import api_fuzz, configs, corrupt, redis_kill, rtsp_outage, security, soak, tail_kill
from scripts.chaos_parts.common import REPO

SCENARIOS = ("rtsp", "corrupt", "redis", "tail", "configs", "api", "soak", "security")


def scenario(name: str, args: argparse.Namespace, folder: Path) -> dict:
    smoke, models, clip = args.smoke, args.models.resolve(), args.clip.resolve()
    if name == "rtsp":
        return rtsp_outage.run(folder, models, [2] if smoke else [2, 5, 20, 60], 1 if smoke else 5)
    if name == "corrupt":
        return corrupt.run(clip, folder, live=True)
    if name == "redis":
        return redis_kill.run(folder, 2_000 if smoke else 10_000, 2 if smoke else 5, 1.0 if smoke else 3.0, 1.5)
    if name == "tail":
        return tail_kill.run(folder, 1_000 if smoke else 10_000, 3 if smoke else 10, 1.5)
    if name == "configs":
        return configs.run(300 if smoke else 10_000)
    if name == "api":
        from testkit.query_scenes import build

        recorded = build(folder / "recorded", models, clip)
        return api_fuzz.run(recorded.config, recorded.storage, 10 if smoke else 200)
    if name == "security":
        return security.run(folder, models, clip, smoke)
    if name == "soak":
        seconds = 20 if smoke else args.soak_minutes * 60
        return soak.run(folder, models, clip, 2 if smoke else 4, seconds, 3 if smoke else 15)
    raise ValueError(name)


def broken_invariants(figures: dict) -> list[str]:
    checks = {
        "corrupt.crashes": figures.get("corrupt", {}).get("crashes"),
        "redis.lost": figures.get("redis", {}).get("lost"),
        "redis.duplicated": figures.get("redis", {}).get("duplicated"),
        "tail.missing": figures.get("tail", {}).get("missing"),
        "configs.tracebacks": figures.get("configs", {}).get("tracebacks"),
        "configs.hangs": figures.get("configs", {}).get("hangs"),
        "configs.errors_without_field": figures.get("configs", {}).get("errors_without_field"),
        "api.server_errors": figures.get("api", {}).get("server_errors"),
        "api.leaks": figures.get("api", {}).get("leaks"),
        "rtsp.worker_restarts": figures.get("rtsp", {}).get("worker_restarts"),
        "soak.worker_restarts": figures.get("soak", {}).get("worker_restarts"),
        "soak.shm_segments_after_stop": figures.get("soak", {}).get("shm_segments_after_stop"),
        "security.open_probes": figures.get("security", {}).get("open_probes"),
    }
    broken = [f"{name} = {value}" for name, value in checks.items() if value not in (None, 0)]
    broken += [
        f"{name}: {figures[name]['error']}"
        for name in figures
        if isinstance(figures[name], dict) and "error" in figures[name]
    ]
    return broken


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="The short version (about 4 minutes), as in `make test`.")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="Comma-separated scenarios.")
    parser.add_argument("--soak-minutes", type=float, default=30.0)
    parser.add_argument("--models", type=Path, default=REPO / "models")
    parser.add_argument("--clip", type=Path, default=REPO / "data" / "samples" / "bikes.mp4")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # the scenarios' own sources log; the figures are the output
    figures: dict = {"mode": "smoke" if args.smoke else "full"}
    with tempfile.TemporaryDirectory(prefix="streamer-chaos-") as tmp:
        for name in [n.strip() for n in args.only.split(",") if n.strip()]:
            started = time.monotonic()
            folder = Path(tmp) / name
            folder.mkdir()
            try:  # stdout is for the figures alone; Hypothesis and helpers print to it
                with contextlib.redirect_stdout(sys.stderr):
                    figures[name] = scenario(name, args, folder)
            except Exception as error:  # a scenario that cannot run is a finding too: say so and go on
                figures[name] = {"error": f"{type(error).__name__}: {str(error)[:500]}"}
            figures[name]["scenario_s"] = round(time.monotonic() - started, 1)
            print(f"chaos: {name} done in {figures[name]['scenario_s']} s", file=sys.stderr, flush=True)
    figures["broken"] = broken_invariants(figures)
    print(json.dumps(figures, indent=2))
    return 1 if figures["broken"] else 0


if __name__ == "__main__":
    sys.exit(main())
