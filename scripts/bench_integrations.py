"""Integration figures, printed as JSON (medians and percentiles; the baseline runs in the same invocation):

- delivery latency: XADD of an alert on a real Redis → its receipt by a real mosquitto subscriber and by a real
  HTTP receiver, through `IntegrationRunner` (an MQTT and a webhook output, each its own consumer group);
- outages: the broker SIGKILLed and the receiver stopped for `--outage-s` while alerts keep coming; lost and
  duplicated messages counted per (event_id, state), and whether they arrived in order;
- the cost on the live path: `streamer run` on the sample video (every frame detected, as fast as the CPU allows,
  looping) without integrations, then with three (MQTT, webhook, e-mail through Apprise to aiosmtpd), alternated;
  the median of the detected fps of the stats lines.

Usage: .venv/bin/python scripts/bench_integrations.py data/samples/bikes.mp4 [--models models] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from streamer.alerts.payload import AlertPayload
from streamer.alerts.streams import StreamNames
from streamer.config.loader import parse_config_text
from streamer.integrations.runner import IntegrationRunner
from testkit.alerts import T0, event_alerts
from testkit.receivers import Broker, SmtpServer, Subscriber, WebhookReceiver
from testkit.redis_server import RedisServer
from testkit.service import Service

SECRET = "bench-webhook-secret-0123456789"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary_ms(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50_ms": round(statistics.median(values) * 1000, 1),
        "p95_ms": round(percentile(values, 0.95) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }


def alerts(count: int) -> list[AlertPayload]:
    """`count` messages: events of a new and an end each, as the service publishes them."""
    return [
        payload
        for n in range(count // 2)
        for payload in event_alerts(f"bench-{n:06d}", T0 + n, T0 + n + 1, track_id=n, model="m")
    ]


def integrations_config(folder: Path, video: Path, broker: Broker, receiver: WebhookReceiver, extra: str = ""):
    text = (
        f"storage_dir: {folder / 'data'}\ncameras:\n  street: {{url: {video}}}\nintegrations:\n"
        f"  ha: {{kind: mqtt, url: '{broker.url}', username: streamer, password: '{broker.password}', "
        "discovery: false}\n"
        f"  hook: {{kind: webhook, url: '{receiver.url}', secret: {SECRET}, "
        "retry: {max_attempts: 1000, backoff_s: 0.2, backoff_max_s: 1}}\n" + extra
    )
    return parse_config_text(text, "bench.yaml", folder, {})


class Feed:
    """XADDs the alerts at `rate` a second from a thread, remembering when each went out."""

    def __init__(self, server: RedisServer, payloads: list[AlertPayload], rate: float):
        self.sent: dict[tuple[str, str], float] = {}
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(server, payloads, rate), daemon=True)

    def start(self) -> "Feed":
        self._thread.start()
        return self

    def _run(self, server: RedisServer, payloads: list[AlertPayload], rate: float) -> None:
        with server.client() as client:
            started = time.monotonic()
            for n, payload in enumerate(payloads):
                time.sleep(max(0.0, started + n / rate - time.monotonic()))
                self.sent[(payload.event_id, payload.state)] = time.time()
                client.xadd(StreamNames().alerts, {"data": payload.to_json()})
        self.done.set()


def received(subscriber: Subscriber, receiver: WebhookReceiver) -> dict[str, list[tuple[tuple[str, str], float]]]:
    mqtt = [
        ((a["event_id"], a["state"]), at)
        for topic, body, _, at in list(subscriber.messages)
        if topic == "streamer/events"
        for a in [json.loads(body)]
    ]
    hook = [((a["event_id"], a["state"]), r.at) for r in list(receiver.requests) for a in [json.loads(r.body)]]
    return {"mqtt": mqtt, "webhook": hook}


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def delivery(folder: Path, video: Path, count: int, rate: float, outage_s: float) -> dict:
    """Latency with both receivers up, then the same stream with both taken away for `outage_s` in its middle."""
    redis_server = RedisServer(folder / "redis").start()
    broker = Broker(folder / "broker").start()
    receiver = WebhookReceiver().start()
    subscriber = Subscriber(broker, "streamer/events")
    runner = IntegrationRunner(integrations_config(folder, video, broker, receiver), redis_server.url)
    runner.start()
    figures: dict = {}
    try:
        payloads = alerts(count)
        feed = Feed(redis_server, payloads, rate).start()
        feed.done.wait()
        wait_for(lambda: all(len(v) >= count for v in received(subscriber, receiver).values()), 60)
        for kind, got in received(subscriber, receiver).items():
            figures[f"{kind}_latency"] = summary_ms([at - feed.sent[key] for key, at in got if key in feed.sent])

        subscriber.messages.clear()
        receiver.requests.clear()
        more = [p.model_copy(update={"event_id": "outage-" + p.event_id}) for p in alerts(count)]
        feed = Feed(redis_server, more, rate).start()
        time.sleep(count / rate / 3)
        broker.kill()
        receiver.stop()
        time.sleep(outage_s)
        broker.start()
        receiver.start()
        feed.done.wait()
        wait_for(lambda: all(len(v) >= count for v in received(subscriber, receiver).values()), 60 + outage_s)
        time.sleep(1)
        wanted = [(p.event_id, p.state) for p in more]
        for kind, got in received(subscriber, receiver).items():
            keys = [key for key, _ in got]
            figures[f"{kind}_outage"] = {
                "outage_s": outage_s,
                "sent": len(wanted),
                "received": len(keys),
                "lost": len(set(wanted) - set(keys)),
                "duplicated": len(keys) - len(set(keys)),
                "in_order": keys == wanted,
            }
    finally:
        runner.stop(drain_s=2)
        subscriber.close()
        receiver.stop()
        broker.kill()
        redis_server.kill()
    return figures


def live_config(folder: Path, video: Path, models: Path, extra: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "live.yaml"
    config.write_text(f"""
storage_dir: {folder / "data"}
models_dir: {models}
logging: {{stats_interval_s: 2}}
api: {{enabled: false}}
{extra}
cameras:
  street:
    url: {video}
    loop: true
    start_time: now
    detect:
      fps: 25
      model: {{weights: yolo26n.pt, classes: [person, bicycle], confidence: 0.3}}
    record: {{mode: "off"}}
    zones:
      crossing: {{polygon: [[200, 120], [460, 120], [460, 272], [200, 272]]}}
    rules:
      - {{type: zone_intrusion, zone: crossing, min_inside_s: 0.2, end_after_s: 0.2, cooldown_s: 0}}
""")
    return config


def live_run(config: Path, seconds: float) -> dict:
    """The detected fps of the stats lines, and the CPU of the `streamer run` process itself (the integrations run on
    its threads; the camera's worker and the engine are its children, not counted there)."""
    service = Service(config)
    try:
        service.wait_for(120, msg="camera stats")
        supervisor = psutil.Process(service.process.pid)
        before, started = sum(supervisor.cpu_times()[:2]), time.monotonic()
        time.sleep(seconds)
        supervisor_cpu = (sum(supervisor.cpu_times()[:2]) - before) / (time.monotonic() - started)
    finally:
        service.stop()
    stats = [r["fps_detected"] for r in service.records if r.get("msg") == "camera stats"][1:]  # past the warm-up
    alerts_published = len([r for r in service.records if r.get("msg") == "published"])
    return {
        "fps_detected_median": round(statistics.median(stats), 2) if stats else None,
        "stats_lines": len(stats),
        "alerts_published": alerts_published,
        "supervisor_cpu_percent_of_a_core": round(100 * supervisor_cpu, 2),
    }


def live_cost(folder: Path, video: Path, models: Path, runs: int, seconds: float) -> dict:
    redis_server = RedisServer(folder / "redis-live").start()
    broker = Broker(folder / "broker-live").start()
    receiver = WebhookReceiver().start()
    subscriber = Subscriber(broker, "streamer/events")
    results: dict[str, list[dict]] = {"without": [], "with_3": []}
    with SmtpServer() as smtp:
        three = (
            "integrations:\n"
            f"  ha: {{kind: mqtt, url: '{broker.url}', username: streamer, password: '{broker.password}'}}\n"
            f"  hook: {{kind: webhook, url: '{receiver.url}', secret: {SECRET}}}\n"
            f"  mail: {{kind: notify, cooldown_s: 0, urls: ['mailto://127.0.0.1:{smtp.port}?from=a@example.com"
            "&to=b@example.com&user=&pass=&mode=insecure']}\n"
        )
        try:
            for run in range(runs):
                for name, extra in (("without", ""), ("with_3", three)):
                    # streams of its own: an integration group must not also deliver what the run before it sent
                    redis = f"redis: {{url: '{redis_server.url}', prefix: bench-{name}-{run}}}\n"
                    figures = live_run(live_config(folder / f"{name}-{run}", video, models, redis + extra), seconds)
                    if name == "with_3":
                        figures.update(
                            mqtt=len(subscriber.messages), webhooks=len(receiver.requests), mails=len(smtp.messages)
                        )
                        subscriber.messages.clear()
                        receiver.requests.clear()
                        smtp.messages.clear()
                    results[name].append(figures)
        finally:
            subscriber.close()
            receiver.stop()
            broker.kill()
            redis_server.kill()
    medians = {
        name: statistics.median(r["fps_detected_median"] for r in runs_ if r["fps_detected_median"])
        for name, runs_ in results.items()
        if any(r["fps_detected_median"] for r in runs_)
    }
    ratio = medians["with_3"] / medians["without"] if len(medians) == 2 else None
    cpu = {
        name: statistics.median(r["supervisor_cpu_percent_of_a_core"] for r in runs_) for name, runs_ in results.items()
    }
    return {
        "runs": results,
        "fps_detected_median": medians,
        "with_over_without": None if ratio is None else round(ratio, 3),
        "supervisor_cpu_percent_of_a_core_median": cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video", type=Path)
    parser.add_argument("--models", type=Path, default=REPO / "models")
    parser.add_argument("--alerts", type=int, default=2000, help="messages per delivery run")
    parser.add_argument("--rate", type=float, default=100.0, help="XADDs a second")
    parser.add_argument("--outage-s", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3, help="alternated live runs without and with integrations")
    parser.add_argument("--seconds", type=float, default=30.0, help="each live run, past its first stats line")
    parser.add_argument("--smoke", action="store_true", help="a short run that checks the script still works")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the outages' expected warnings are not the figures
    if args.smoke:
        args.alerts, args.rate, args.outage_s, args.runs, args.seconds = 60, 50.0, 1.0, 1, 4.0
    with tempfile.TemporaryDirectory(prefix="bench-integrations-") as temp:
        folder = Path(temp)
        result = {
            "alerts": args.alerts,
            "rate_per_s": args.rate,
            "smoke": args.smoke,
            "delivery": delivery(folder / "delivery", args.video.resolve(), args.alerts, args.rate, args.outage_s),
            "live_path": live_cost(
                folder / "live", args.video.resolve(), args.models.resolve(), args.runs, args.seconds
            ),
        }
    print(json.dumps(result, indent=2))
    outages = [v for k, v in result["delivery"].items() if k.endswith("_outage")]
    if any(o["lost"] or o["duplicated"] or not o["in_order"] for o in outages):
        sys.exit(1)


if __name__ == "__main__":
    main()
