"""`/metrics` during a real `streamer run` (real weights, the sample video at its own pace) with two integrations
delivering from it (a real mosquitto and a real HTTP receiver): the per-camera gauges are the stats lines' figures,
and once the run is over the counters agree with the alerts read back from Redis and with what the receivers got."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from testkit.api import Served
from testkit.receivers import Broker, Subscriber, WebhookReceiver, needs_mosquitto
from testkit.rtsp import free_port
from testkit.service import Service

STREAMER = [sys.executable, "-m", "streamer"]
SECRET = "a-webhook-secret-of-32-characters"


def samples(text: str) -> dict[str, list]:
    found: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


def value(found: dict[str, list], name: str, **labels: str) -> float | None:
    for sample in found.get(name, []):
        if all(sample.labels.get(k) == v for k, v in labels.items()):
            return sample.value
    return None


def test_metrics_agree_with_the_stats_lines_and_the_alert_stream(
    tmp_path: Path, models_dir: Path, bikes_mp4: Path
) -> None:
    needs_mosquitto()
    broker = Broker(tmp_path / "broker").start()
    subscriber = Subscriber(broker, "streamer/events")
    receiver = WebhookReceiver().start()
    port = free_port()
    config = tmp_path / "street.yaml"
    config.write_text(f"""
storage_dir: {tmp_path / "data"}
models_dir: {models_dir}
logging: {{stats_interval_s: 1}}
api: {{port: {port}}}
integrations:
  ha: {{kind: mqtt, url: "{broker.url}", username: streamer, password: "{broker.password}"}}
  hook: {{kind: webhook, url: "{receiver.url}", secret: {SECRET}}}
cameras:
  street:
    url: {bikes_mp4}
    realtime: true
    start_time: "2026-11-21T09:00:00+00:00"
    detect:
      fps: 5
      model: {{weights: yolo26n.pt, classes: [person, bicycle], confidence: 0.3}}
    zones:
      crossing: {{polygon: [[200, 120], [460, 120], [460, 272], [200, 272]]}}
    rules:
      - {{type: zone_intrusion, zone: crossing, min_inside_s: 1.0}}
""")
    service = Service(config)
    scraped = ""
    try:
        service.wait_for(90, count=3, msg="camera stats")
        scraped = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        assert service.wait(120) == 0
    finally:
        service.kill()
    during = samples(scraped)
    stats = [r for r in service.records if r.get("msg") == "camera stats"]
    fps_in = value(during, "streamer_camera_fps_in", camera="street")
    assert fps_in is not None and any(abs(r["fps_in"] - fps_in) < 1e-6 for r in stats), (
        fps_in,
        [r["fps_in"] for r in stats],
    )
    fps_detected = value(during, "streamer_camera_fps_detected", camera="street")
    assert any(abs(r["fps_detected"] - fps_detected) < 1e-6 for r in stats)
    assert 3 <= fps_detected <= 7  # 5 fps asked, the file at its own pace
    assert value(during, "streamer_camera_source_state", camera="street", state="streaming") == 1.0
    assert value(during, "streamer_camera_seconds_since_last_frame", camera="street") < 3
    assert value(during, "streamer_engine_batch_size_count", device="cpu") > 0
    assert any(s.labels["model"] == "yolo26n.pt" for s in during["streamer_engine_inference_seconds_count"])

    tail = subprocess.run(
        [*STREAMER, "alerts", "tail", "-c", str(config), "--json", "--from-start", "--no-follow"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    alerts = [json.loads(line) for line in tail.stdout.splitlines()]
    assert len(alerts) >= 3, tail.stderr
    on_redis = Counter((a["camera"], a["type"], a["state"]) for a in alerts)
    with Served(config) as served:  # the finished run's counters, read by `streamer serve` over the same storage
        after = samples(httpx.get(f"{served.base}/metrics", timeout=10).text)
    counted = Counter(
        {
            (s.labels["camera"], s.labels["type"], s.labels["state"]): int(s.value)
            for s in after["streamer_alerts_total"]
        }
    )
    assert counted == on_redis
    assert (
        value(after, "streamer_events_total", camera="street", type="zone_intrusion")
        == on_redis[("street", "zone_intrusion", "new")]
    )
    decoded = value(after, "streamer_camera_frames_decoded_total", camera="street")
    assert decoded == stats[-1]["decoded"] == stats[-1]["frames"] == 250  # every frame of the 10 s file
    assert value(after, "streamer_camera_fps_in", camera="street") is None  # a finished camera's live gauge is gone

    # the integrations delivered every alert of the run before it ended, in the stream's order
    sent = [(a["event_id"], a["state"]) for a in alerts]
    assert [(a["event_id"], a["state"]) for a in map(json.loads, subscriber.on("streamer/events"))] == sent
    assert [(a["event_id"], a["state"]) for a in (json.loads(r.body) for r in receiver.requests)] == sent
    for kind, name in (("mqtt", "ha"), ("webhook", "hook")):
        assert value(after, "streamer_integration_deliveries_total", integration=name, kind=kind) == len(alerts)
    subscriber.close()
    receiver.stop()
    broker.kill()


def exported_names() -> set[str]:
    from prometheus_client.metrics import MetricWrapperBase

    from streamer import metrics
    from streamer.api.metrics import READ_AT_SCRAPE

    defined = {
        family.name
        for value in vars(metrics).values()
        if isinstance(value, MetricWrapperBase)
        for family in value.describe()
    }
    return defined | set(READ_AT_SCRAPE)


def base_name(name: str) -> str:
    return re.sub(r"_(bucket|sum|count|total)$", "", name)


def test_the_dashboard_and_the_metrics_page_name_only_exported_metrics() -> None:
    docs = Path(__file__).resolve().parents[1] / "docs"
    dashboard = json.loads((docs / "grafana" / "streamer-dashboard.json").read_text())
    queried = {
        base_name(name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"streamer_[a-z_]+", target["expr"])
    }
    exported = {base_name(name) for name in exported_names()}
    assert queried and queried <= exported, queried - exported
    documented = {
        base_name(name) for name in re.findall(r"^\| `(streamer_[a-z_]+)`", (docs / "metrics.md").read_text(), re.M)
    }
    assert documented == exported  # every metric documented, and nothing documented that is not exported
