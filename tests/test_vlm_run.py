"""`streamer run` with a VLM configured (the scripted test double, answered by the VLM workers the run starts):
on the real street video each zone event is followed by a confirmed update with absolute VLM times; with `hold`,
the `new` alert waits and goes out already confirmed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamer.alerts.payload import AlertPayload
from streamer.index import db, store
from tests.test_cli_alerts import run, street_config

ANSWER = (
    '```json\n{"verdict": "confirmed", "events": [{"label": "a person walks into the crossing", "start_time": 3.0, '
    '"end_time": 5.0, "risk_level": "high", "description": "A pedestrian steps into the marked crossing."}]}\n```'
)


def vlm_config(tmp_path: Path, models_dir: Path, bikes_mp4: Path, hold: bool) -> Path:
    (tmp_path / "answers.yaml").write_text(json.dumps({"zone_intrusion": [ANSWER]}))
    section = f"""
vlm:
  backend: scripted
  scripted: {{responses: {tmp_path / "answers.yaml"}}}
  workers: 1
  sampling: {{fps: 2, pre_s: 3, post_s: 3}}
  hold: {{types: {"[zone_intrusion]" if hold else "[]"}, timeout_s: 20}}
"""
    return street_config(tmp_path, models_dir, bikes_mp4, storage=section)


def run_with_vlm(
    tmp_path: Path, models_dir: Path, bikes_mp4: Path, hold: bool
) -> tuple[dict[str, list[dict]], list[dict]]:
    """`streamer run`, then every alert by event (in order) and the run's log records."""
    config = vlm_config(tmp_path, models_dir, bikes_mp4, hold)
    service = run("run", "--config", str(config), "--log-format", "json")
    assert service.returncode == 0, service.stderr[-3000:]
    events = alerts_by_event(config)
    assert events  # people walk into the crossing in this video
    return events, [json.loads(line) for line in service.stderr.splitlines() if line.startswith("{")]


def alerts_by_event(config: Path) -> dict[str, list[dict]]:
    tail = run("alerts", "tail", "--config", str(config), "--json", "--from-start", "--no-follow", timeout=60)
    assert tail.returncode == 0, tail.stderr[-2000:]
    events: dict[str, list[dict]] = {}
    for line in tail.stdout.splitlines():
        alert = json.loads(line)
        AlertPayload.model_validate(alert)
        events.setdefault(alert["event_id"], []).append(alert)
    return events


def check_vlm_times(alert: dict) -> None:
    vlm = alert["vlm"]
    assert vlm["status"] == "answered" and vlm["model"] == "scripted-test-double"
    assert vlm["start_ts"] == pytest.approx(vlm["window_start_ts"] + 3.0, abs=0.002)
    assert vlm["end_ts"] == pytest.approx(vlm["window_start_ts"] + 5.0, abs=0.002)
    # the clip starts pre_s = 3 s before the event, on the 0.5 s sampling grid
    assert vlm["window_start_ts"] == pytest.approx(alert["start_ts"] - 3.0, abs=0.3)
    assert vlm["start_iso"].startswith("2026-11-21T09:00:")


def test_each_event_is_followed_by_a_confirmed_update(tmp_path: Path, models_dir: Path, bikes_mp4: Path) -> None:
    events, log = run_with_vlm(tmp_path, models_dir, bikes_mp4, hold=False)
    for messages in events.values():
        assert (messages[0]["state"], messages[0]["verification"]) == ("new", "pending")
        updates = [m for m in messages if m["vlm"] is not None]
        first = updates[0]
        assert first["state"] == "update" and first["verification"] == "confirmed" and first["risk_level"] == "high"
        assert first["description"] == "A pedestrian steps into the marked crossing."
        check_vlm_times(first)
        # every message after the verdict carries it (the end, the clip update)
        after = messages[messages.index(first) :]
        assert all(m["verification"] == "confirmed" for m in after)
        assert messages[-1]["clip"] is not None
    conn = db.connect(tmp_path / "data")
    for event_id in events:
        assert [row.verdict for row in store.findings_of(conn, event_id)] == ["confirmed"]
    assert sum(r["msg"] == "VLM job done" for r in log) == len(events)


def test_held_new_alerts_go_out_already_confirmed(tmp_path: Path, models_dir: Path, bikes_mp4: Path) -> None:
    events, log = run_with_vlm(tmp_path, models_dir, bikes_mp4, hold=True)
    for messages in events.values():
        assert messages[0]["state"] == "new" and messages[0]["verification"] == "confirmed"
        check_vlm_times(messages[0])
        assert [m["state"] for m in messages][:2] == ["new", "end"]
        assert all(m["verification"] == "confirmed" for m in messages)
    released = [r.get("why", "at stop") for r in log if r["msg"].startswith("held alert released")]
    assert released and all(why == "vlm answered" for why in released), released
