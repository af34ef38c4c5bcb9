"""A `streamer alerts tail --group` consumer SIGKILLed again and again while alerts arrive: once it is back, every
alert has been printed (at least once: an alert printed but not yet acknowledged when the kill came is printed
again; those are counted, not hidden)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from streamer.alerts.streams import StreamNames
from testkit.redis_server import RedisServer

NAMES = StreamNames("streamer")  # what `alerts tail` reads with no config


def run(folder: Path, alerts: int, kills: int, alive_s: float) -> dict:
    server = RedisServer(folder / "redis-tail").start()
    out = folder / "tail.jsonl"
    producing = threading.Thread(target=_produce, args=(server, alerts, kills * (alive_s + 1.5)), daemon=True)
    producing.start()
    command = [
        sys.executable,
        "-m",
        "streamer",
        "alerts",
        "tail",
        "--redis-url",
        server.url,
        "--group",
        "chaos",
        "--consumer",
        "c1",
        "--from-start",
        "--json",
        "--claim-idle-s",
        "1",
    ]
    killed = 0
    try:
        with out.open("ab") as sink:
            for _ in range(kills):
                consumer = subprocess.Popen(command, stdout=sink, stderr=subprocess.DEVNULL)
                time.sleep(alive_s)
                consumer.send_signal(signal.SIGKILL)
                consumer.wait(5)
                killed += 1
            producing.join(120)
            final = subprocess.Popen([*command, "--no-follow"], stdout=sink, stderr=subprocess.DEVNULL)
            final.wait(120)
    finally:
        server.stop()
    printed = []
    for line in out.read_bytes().splitlines():
        try:
            printed.append(json.loads(line)["n"])
        except (ValueError, KeyError):
            pass  # a line cut by the kill: it was never acknowledged, so it comes again
    unique = set(printed)
    return {
        "alerts": alerts,
        "kills": killed,
        "missing": alerts - len(unique & set(range(alerts))),
        "printed_twice": len(printed) - len(unique),
    }


def _produce(server: RedisServer, alerts: int, span_s: float) -> None:
    started = time.monotonic()
    with server.client() as client:
        for n in range(alerts):
            client.xadd(NAMES.alerts, {"data": json.dumps({"n": n, "event_id": f"e{n}", "state": "new"})})
            lag = started + span_s * (n + 1) / alerts - time.monotonic()
            if lag > 0:
                time.sleep(lag)
