"""Site figures, printed as JSON: three `streamer run --node` hosts on one config, one real redis-server, one
PostgreSQL (the site's index) and one S3-compatible server (moto's, the recordings), six cameras replayed live from
a looping file, each host with its own local folder. First, while the site runs: the upload lag of each segment
(closed and indexed on its host → listed in the bucket). Then, `--kills` times: one host SIGKILLed with its whole
process group (the host running the most cameras), and measured:

- failover: from the kill to every one of its cameras streaming on another host (the supervisors' `source
  streaming` entries on the health stream), p50 / p95 over the kills;
- the recording gap of each camera that moved: the longest hole between its segments around the kill, from the end
  of the last segment the dead host indexed to the start of the first the new host indexed (both in the shared
  index; the dead host's unfinished segment is on its disk), and again once that host is back and has repaired
  and indexed its unfinished segment;
- alerts: (event_id, state) pairs published twice (must be 0); events announced and never ended (must be 0 at the
  end, when every host has stopped cleanly); `camera_offline` alerts, a `new` and an `end` per moved camera;
- the killed host is started again and takes its share back before the next kill, cameras handed over cleanly:
  the handover gap, the longest hole in each handed-back camera's recording around it.

And at the end, on what the site recorded: a question's latency over the three hosts' PostgreSQL index against the
same rows in one SQLite file (a copy made here, as one host alone would have them), cold each time; and the index's
write rate on PostgreSQL against SQLite (track summary rows and events through the index's own writes, in the
writer's batches).

Usage: .venv/bin/python scripts/bench_site.py data/samples/bikes.mp4 [--models models] [--kills 5] [--smoke]
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scripts.bench_site_parts import index_write_rates, question_latency, upload_lags
from streamer.index import db, store
from testkit.postgres_server import PostgresServer
from testkit.redis_server import RedisServer
from testkit.s3_server import CREDENTIALS, S3Server
from testkit.service import Service
from testkit.site_hosts import (
    CAMERAS,
    holders,
    latest_streaming,
    said_between,
    shares,
    site_config,
    streaming_since,
)

HOSTS = ("a", "b", "c")
BUCKET = "bench-site"
SETTLE_S = 8.0  # before a kill, each camera has finished a segment or two where it runs (the gap is measured)


def wait(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def segments(index_url: str, camera: str) -> list[tuple[float, float]]:
    conn = db.connect(index_url, readonly=True)
    try:
        return [(s.start_ts, s.end_ts) for s in store.segments_of(conn, camera)]
    finally:
        conn.close()


def largest_hole(index_url: str, camera: str, since: float, until: float) -> float | None:
    """The longest stretch without recording between the camera's segments around [since, until] (the shared index
    has every host's segments); None until segments exist on both sides of `since`."""
    rows = [row for row in segments(index_url, camera) if row[1] >= since - 10 and row[0] <= until]
    if not rows or rows[0][0] > since or rows[-1][0] < since:
        return None
    return round(max((b[0] - a[1] for a, b in zip(rows, rows[1:])), default=0.0), 2)


def recording_where_they_run(index_url: str, client) -> bool:
    """Every camera has indexed a segment since its source last said it streams (on the host that runs it now)."""
    started = latest_streaming(client)
    return all(any(start >= started.get(c, 0) - 1 for start, _ in segments(index_url, c)) for c in CAMERAS)


def one_kill(index_url: str, config: Path, client, hosts: dict[str, Service], settle: bool = True) -> dict:
    held = holders(client)
    victim = max(HOSTS, key=lambda h: sum(1 for n in held.values() if n == h))
    cameras = sorted(c for c, n in held.items() if n == victim)
    killed_at = time.time()
    hosts.pop(victim).kill()
    moved = wait(lambda: all(c in streaming_since(client, killed_at) for c in cameras), 60)
    failover_s = round(time.time() - killed_at, 2) if moved else None
    if not moved:  # what the hosts said since the kill, to see why (the figure is missing, not made up)
        print(json.dumps({"not_moved": cameras, "since_kill": said_between(client, killed_at)}), file=sys.stderr)
    new_hosts = streaming_since(client, killed_at)
    # the new hosts' first segments are indexed once finished (the file's keyframes cut them)
    wait(lambda: recording_where_they_run(index_url, client), 40)
    gaps = {c: largest_hole(index_url, c, killed_at, time.time()) for c in cameras}
    joined_at = time.time()
    hosts[victim] = Service(config, env={"STREAMER_NODE": victim})  # it comes back and takes its share
    rejoined = wait(
        lambda: (
            shares(client) == [2, 2, 2]
            and all(c in streaming_since(client, joined_at) for c, n in holders(client).items() if n == victim)
            and recording_where_they_run(index_url, client)
        ),
        120,
    )
    handed_back = sorted(c for c, n in holders(client).items() if n == victim)
    handover_gaps = {c: largest_hole(index_url, c, joined_at, time.time()) for c in handed_back}
    if settle:  # another kill follows
        time.sleep(SETTLE_S)
    # back, the host repaired and indexed what it was writing when it died (for the cameras it runs again, which
    # rendezvous hashing gives back to it): the hole left is from its last fragment to the new host's first frame
    gaps_after = {c: largest_hole(index_url, c, killed_at, joined_at) for c in cameras}
    return {
        "killed": victim,
        "cameras": cameras,
        "moved_to": {c: new_hosts.get(c) for c in cameras},
        "failover_s": failover_s,
        "recording_gap_s": gaps,
        "recording_gap_after_return_s": gaps_after,
        "rejoined_share": rejoined,
        "handover_gap_s": handover_gaps,
    }


def alerts_check(client) -> dict:
    alerts = [json.loads(fields[b"data"]) for _, fields in client.xrange("streamer:alerts")]
    said = collections.Counter((a["event_id"], a["state"]) for a in alerts if a["state"] in ("new", "end"))
    ended = {a["event_id"] for a in alerts if a["state"] == "end"}
    return {
        "alerts": len(alerts),
        "doubled": sum(1 for count in said.values() if count > 1),
        "never_ended": len({a["event_id"] for a in alerts if a["state"] == "new"} - ended),
        "ended_by_takeover": sum(1 for a in alerts if a.get("end_reason")),
        "camera_offline": sum(1 for a in alerts if a["type"] == "camera_offline"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clip", type=Path)
    parser.add_argument("--models", type=Path, default=REPO / "models")
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="One kill (as `make test` runs it); not a figure.")
    args = parser.parse_args()
    kills = 1 if args.smoke else args.kills
    postgres, s3 = PostgresServer().start(), S3Server().start()
    s3.client().create_bucket(Bucket=BUCKET)
    storage = {
        "url": f"s3://{BUCKET}/site",
        "s3": {
            "endpoint_url": s3.endpoint,
            "region": "us-east-1",
            "access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        },
    }
    index_url = postgres.create_database("site")
    with tempfile.TemporaryDirectory(prefix="bench-site-") as name:
        folder = Path(name)
        server = RedisServer(folder / "redis").start()
        client = server.client()
        config = site_config(
            folder, args.clip.resolve(), args.models.resolve(), server.url, index_url=index_url, storage=storage
        )
        started = time.monotonic()
        hosts = {host: Service(config, env={"STREAMER_NODE": host}) for host in HOSTS}
        try:
            up = wait(lambda: set(streaming_since(client, 0)) == set(CAMERAS) and shares(client) == [2, 2, 2], 180)
            start_s = round(time.monotonic() - started, 1)
            lags = upload_lags(s3, BUCKET, "site/", index_url, 6.0 if args.smoke else 40.0)
            runs = (
                [one_kill(index_url, config, client, hosts, settle=n < kills - 1) for n in range(kills)] if up else []
            )
        finally:
            for host in hosts.values():
                host.stop()
            time.sleep(1)
        question = question_latency(config, index_url, folder, repeats=3 if args.smoke else 7)
        writes = index_write_rates(postgres, folder, rows=2_000 if args.smoke else 20_000)
        failovers = [run["failover_s"] for run in runs if run["failover_s"] is not None]
        gaps = [gap for run in runs for gap in run["recording_gap_s"].values() if gap is not None]
        handovers = [gap for run in runs for gap in run["handover_gap_s"].values() if gap is not None]
        repaired = [gap for run in runs for gap in run["recording_gap_after_return_s"].values() if gap is not None]
        figures = {
            "mode": "smoke" if args.smoke else "full",
            "hosts": len(HOSTS),
            "cameras": len(CAMERAS),
            "site_up_s": start_s if up else None,
            "kills": runs,
            "failover_s": {
                "n": len(failovers),
                "p50": statistics.median(failovers) if failovers else None,
                "p95": sorted(failovers)[min(len(failovers) - 1, round(0.95 * (len(failovers) - 1)))]
                if failovers
                else None,
                "max": max(failovers, default=None),
            },
            "recording_gap_s": {
                "n": len(gaps),
                "p50": statistics.median(gaps) if gaps else None,
                "max": max(gaps, default=None),
            },
            "recording_gap_after_return_s": {
                "n": len(repaired),
                "p50": statistics.median(repaired) if repaired else None,
                "max": max(repaired, default=None),
            },
            "handover_gap_s": {
                "n": len(handovers),
                "p50": statistics.median(handovers) if handovers else None,
                "max": max(handovers, default=None),
            },
            **alerts_check(client),
            "upload_lag_s": lags,
            "question_ms": question,
            "index_writes_per_s": writes,
        }
        server.stop()
    s3.stop()
    postgres.remove()
    print(json.dumps(figures, indent=2))
    return 0 if up and figures["doubled"] == 0 and figures["never_ended"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
