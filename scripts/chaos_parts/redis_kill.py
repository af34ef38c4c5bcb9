"""Redis SIGKILLed while alerts are produced: every alert delivered once (per event_id + state), and each outage
reported on the health stream with its length, against the length the harness itself measured."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from scripts.chaos_parts.common import percentiles
from streamer.alerts.health import HealthReporter
from streamer.alerts.publisher import Publisher
from streamer.alerts.spool import Spool, SpoolRecord
from streamer.alerts.streams import StreamNames
from testkit.redis_server import RedisServer

NAMES = StreamNames("chaos")


def _record(n: int) -> SpoolRecord:
    event = f"ev{n // 2}"
    state = "new" if n % 2 == 0 else "end"
    data = json.dumps({"event_id": event, "state": state, "n": n})
    return SpoolRecord(f"{event}:{n % 2}:{state}", (NAMES.alerts,), data, time.time())


def run(folder: Path, alerts: int, kills: int, outage_s: float, up_s: float) -> dict:
    server = RedisServer(folder / "redis").start()
    publisher = Publisher(
        "chaos",
        Spool(folder / "spool" / "chaos.jsonl"),
        server.url,
        NAMES.prefix,
        10_000_000,
        3600,
        timeout_s=0.5,
        heartbeat_s=0.5,
    ).start()
    health = HealthReporter(publisher, NAMES, watch_redis=True)
    span = kills * (outage_s + up_s) + up_s
    producer = threading.Thread(target=_produce, args=(publisher, alerts, span), daemon=True)
    producer.start()
    true_lengths = []
    try:
        for _ in range(kills):
            time.sleep(up_s)
            killed = time.monotonic()
            server.kill()
            time.sleep(outage_s)
            server.start()
            true_lengths.append(time.monotonic() - killed)
        producer.join(span + 60)
        deadline = time.monotonic() + 60
        while publisher.delivered + publisher.duplicates < alerts and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # the last health entries
        with server.client() as client:
            delivered = [json.loads(fields[b"data"]) for _, fields in client.xrange(NAMES.alerts)]
            reports = [json.loads(fields[b"data"]) for _, fields in client.xrange(NAMES.health)]
    finally:
        health.close(2.0)
        server.stop()
    keys = [(d["event_id"], d["state"]) for d in delivered]
    reported = [r["down_s"] for r in reports if r["component"] == "redis" and r["state"] == "up"]
    errors = [abs(r - t) for r, t in zip(reported, true_lengths)]
    return {
        "alerts": alerts,
        "kills": kills,
        "outage_s": outage_s,
        "lost": alerts - len(set(keys)),
        "duplicated": len(keys) - len(set(keys)),
        "in_order": [d["n"] for d in delivered] == sorted(d["n"] for d in delivered),
        "outages_reported": len(reported),
        "outage_true_s": [round(t, 2) for t in true_lengths],
        "outage_reported_s": reported,
        "report_error_s": percentiles(errors),
    }


def _produce(publisher: Publisher, alerts: int, span_s: float) -> None:
    started = time.monotonic()
    for n in range(alerts):
        publisher.submit([_record(n)])
        lag = started + span_s * (n + 1) / alerts - time.monotonic()  # spread evenly over the kills
        if lag > 0:
            time.sleep(lag)
