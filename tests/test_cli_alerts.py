"""The whole path as a user runs it: `streamer run` on the real street video with a zone publishes alerts that
`streamer alerts tail` prints; with Redis down the alerts wait in the spool and a later run delivers them once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from streamer.alerts.payload import json_schema
from streamer.index import db, store
from testkit.redis_server import RedisServer
from testkit.rtsp import free_port
from tests.helpers.recording import START_TS, decoded_pts

STREAMER = [sys.executable, "-m", "streamer"]
SCHEMA = json.loads(json_schema())


def street_config(folder: Path, models_dir: Path, bikes_mp4: Path, redis: str = "", storage: str = "") -> Path:
    config = folder / "street.yaml"
    config.write_text(f"""
storage_dir: {folder / "data"}
models_dir: {models_dir}
{redis}
{storage}
cameras:
  street:
    url: {bikes_mp4}
    start_time: "2026-11-21T09:00:00+00:00"
    detect:
      fps: 5
      model: {{weights: yolo26n.pt, classes: [person, bicycle], confidence: 0.3}}
    zones:
      crossing: {{polygon: [[200, 120], [460, 120], [460, 272], [200, 272]]}}
    rules:
      - {{type: zone_intrusion, zone: crossing, min_inside_s: 1.0}}
""")
    return config


def run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """stdout: what the command prints (alerts); stderr: its log."""
    return subprocess.run([*STREAMER, *args], capture_output=True, text=True, timeout=timeout)


def test_run_publishes_schema_valid_alerts_that_tail_prints(tmp_path: Path, models_dir: Path, bikes_mp4: Path) -> None:
    config = street_config(tmp_path, models_dir, bikes_mp4)
    service = run("run", "--config", str(config), "--log-format", "json")
    assert service.returncode == 0, service.stderr[-3000:]
    log = [json.loads(line) for line in service.stderr.splitlines() if line.startswith("{")]
    assert any(r["msg"] == "embedded redis started" for r in log)
    logged = [(r["event_id"], r["state"]) for r in log if r["msg"] == "event"]
    assert len(logged) >= 2  # people walk into the crossing in this video
    clips = {r["event_id"]: r["path"] for r in log if r["msg"] == "event clip written"}
    tail = run("alerts", "tail", "--config", str(config), "--json", "--from-start", "--no-follow", timeout=60)
    alerts = [json.loads(line) for line in tail.stdout.splitlines()]
    assert [(a["event_id"], a["state"]) for a in alerts if a["clip"] is None] == logged, tail.stderr
    for alert in alerts:
        jsonschema.validate(alert, SCHEMA)
        assert (
            alert["camera"] == "street" and alert["type"] == "zone_intrusion" and alert["source"]["zone"] == "crossing"
        )
        assert (tmp_path / "data" / alert["snapshot"]).is_file()
    by_event: dict[str, list[str]] = {}
    for alert in alerts:
        by_event.setdefault(alert["event_id"], []).append(alert["state"])
    # the file ends: every event closes, then its clip is announced
    assert all(states == ["new", "end", "update"] for states in by_event.values())
    for update in (a for a in alerts if a["state"] == "update"):
        assert update["clip"] == clips[update["event_id"]] and update["end_ts"] is not None
        pts = decoded_pts(tmp_path / "data" / update["clip"])
        # pre-roll 5 s and post-roll 5 s around the event, cut to what the 10 s file holds
        expected = min(update["end_ts"] + 5, START_TS + 10) - max(update["start_ts"] - 5, START_TS)
        assert len(pts) / 25 == pytest.approx(expected, abs=1.3)  # remuxed from the keyframe before: within a GOP
    conn = db.connect(tmp_path / "data")
    indexed = dict(conn.exec_driver_sql("SELECT event_id, clip FROM events").all())
    assert indexed == clips  # every event in the index has its playable clip
    assert all(store.event_states(conn, event_id) == ["new", "end", "update"] for event_id in indexed)  # the history
    conn.close()
    first = alerts[0]
    assert first["start_iso"].startswith("2026-11-21T09:00:0")  # file start_time + PTS, not the time of the run
    health = run("alerts", "tail", "--config", str(config), "--health", "--from-start", "--no-follow", timeout=60)
    states = [(h["component"], h["state"]) for h in map(json.loads, health.stdout.splitlines())]
    assert ("worker", "started") in states and ("source", "streaming") in states
    assert ("recorder", "recording") in states and ("recorder", "stopped") in states


def test_a_full_disk_pauses_recording_and_alerts_still_flow_without_clips(
    tmp_path: Path, models_dir: Path, bikes_mp4: Path
) -> None:
    config = street_config(tmp_path, models_dir, bikes_mp4, storage="storage: {min_free: 1PB}")
    service = run("run", "--config", str(config))
    assert service.returncode == 0, service.stderr[-3000:]
    tail = run("alerts", "tail", "--config", str(config), "--json", "--from-start", "--no-follow", timeout=60)
    alerts = [json.loads(line) for line in tail.stdout.splitlines()]
    assert alerts and {a["state"] for a in alerts} == {"new", "end"} and all(a["clip"] is None for a in alerts)
    health = run("alerts", "tail", "--config", str(config), "--health", "--from-start", "--no-follow", timeout=60)
    paused = [
        h
        for h in map(json.loads, health.stdout.splitlines())
        if h["component"] == "recorder" and h["state"] == "paused"
    ]
    assert len(paused) == 1 and "disk full" in paused[0]["reason"] and paused[0]["camera"] == "street"


def test_alerts_of_a_run_without_redis_are_delivered_once_by_the_next_run(
    tmp_path: Path, models_dir: Path, bikes_mp4: Path
) -> None:
    port = free_port()
    config = street_config(
        tmp_path, models_dir, bikes_mp4, redis=f"redis: {{url: 'redis://127.0.0.1:{port}/0', connect_timeout_s: 0.5}}"
    )
    offline = run("run", "--config", str(config))
    assert offline.returncode == 0, offline.stderr[-3000:]  # Redis down is not a failure of the service
    assert "redis unreachable" in offline.stderr
    spool = tmp_path / "data" / "spool" / "alerts-street.jsonl"
    records = [json.loads(line) for line in spool.read_text().splitlines()]
    spooled = [r["id"] for r in records if "streamer:alerts" in r["streams"]]  # the recorder's health goes here too
    assert len(spooled) >= 2
    server = RedisServer(tmp_path / "redis", port=port).start()
    try:
        online = run("run", "--config", str(config))  # the same file again: same event ids, plus the spooled ones
        assert online.returncode == 0, online.stderr[-3000:]
        with server.client() as client:
            entries = [json.loads(fields[b"data"]) for _, fields in client.xrange("streamer:alerts")]
        ids = [f"{a['event_id']}:{a['state']}" for a in entries]
        assert len(ids) == len(spooled) and len(set(ids)) == len(ids)  # every alert once, none twice
    finally:
        server.stop()
