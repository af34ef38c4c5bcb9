"""Three hosts, one site (issue 24): three real `streamer run --node` processes on one config and one real
redis-server, each with its own storage folder, six cameras replayed live from looping files. Every camera runs on
exactly one host; a host SIGKILLed with its whole process group has its cameras streaming on the others within 15
s, with a `camera_offline` alert and its `end` for each, and no alert doubled; a clean stop hands its cameras over
at once with no offline alert; a host that joins takes its share."""

from __future__ import annotations

import collections
import json
import time
from pathlib import Path

import pytest

from streamer.alerts.payload import AlertPayload
from tests.helpers.redis_server import RedisServer
from tests.helpers.service import Service
from tests.helpers.site_hosts import CAMERAS, site_config, streaming_since
from tests.helpers.site_hosts import holders as _holders

FAILOVER_S = 15.0


@pytest.fixture
def site(tmp_path, models_dir, bikes_mp4) -> tuple[Path, RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield site_config(tmp_path, bikes_mp4, models_dir, server.url), server
    server.stop()


def _host(config: Path, node: str) -> Service:
    return Service(config, env={"STREAMER_NODE": node})


def _site(client) -> list[tuple]:
    """The site's own entries on the health stream (leases acquired, handed over, lost), for failure messages."""
    return [(e["camera"], e["state"], e.get("node"), e["reason"][:60]) for e in
            (json.loads(fields[b"data"]) for _, fields in client.xrange("streamer:health")) if e["component"] == "site"]


def _alerts(client) -> list[AlertPayload]:
    return [AlertPayload.model_validate_json(fields[b"data"]) for _, fields in client.xrange("streamer:alerts")]


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout} s")


def test_three_hosts_share_six_cameras_and_move_them_when_one_dies_stops_or_joins(site) -> None:
    config, server = site
    client = server.client()
    hosts = {node: _host(config, node) for node in ("a", "b", "c")}
    try:
        _wait(lambda: set(streaming_since(client)) == set(CAMERAS) and all(_holders(client).values()), 120,
              "all six cameras streaming")
        time.sleep(3)  # the shares settle: a host that started first gives back what it took alone
        holders = _wait(lambda: (h := _holders(client)) and sorted(collections.Counter(h.values()).values()) == [2, 2, 2] and h,
                        30, "two cameras a host")
        on_b = sorted(camera for camera, node in holders.items() if node == "b")

        killed_at = time.time()
        hosts.pop("b").kill()  # SIGKILL, with its workers and engine: no lease is handed over
        moved = _wait(lambda: (s := streaming_since(client, killed_at)) and all(c in s for c in on_b) and s,
                      FAILOVER_S + 5, "b's cameras streaming elsewhere")
        failover_s = time.time() - killed_at
        assert failover_s < FAILOVER_S, failover_s
        assert {moved[camera] for camera in on_b} <= {"a", "c"}
        _wait(lambda: set(_holders(client).values()) == {"a", "c"}, 15, "every camera held by a or c")
        offline = _wait(lambda: [a for a in _alerts(client) if a.type == "camera_offline" and a.camera in on_b],
                        10, "camera_offline alerts")
        _wait(lambda: len([a for a in _alerts(client) if a.type == "camera_offline" and a.camera in on_b]) == 2 * len(on_b),
              10, f"each offline alert's new and end (b ran {on_b}; offline alerts: "
                  f"{[(a.camera, a.state) for a in _alerts(client) if a.type == 'camera_offline']}; site: {_site(client)})")
        offline = [a for a in _alerts(client) if a.type == "camera_offline" and a.camera in on_b]
        for camera in on_b:
            new, end = [a for a in offline if a.camera == camera]
            assert (new.state, end.state) == ("new", "end") and new.event_id == end.event_id
            assert new.start_ts <= killed_at + 1.5 and end.end_ts - new.start_ts < FAILOVER_S + 2
            assert "host b stopped answering" in new.description

        stopped_at = time.time()
        on_c = sorted(camera for camera, node in _holders(client).items() if node == "c")
        hosts.pop("c").stop()  # a clean stop: its cameras are handed over at once
        _wait(lambda: set(_holders(client).values()) == {"a"} and all(c in streaming_since(client, stopped_at) for c in on_c),
              25, "c's cameras streaming on a")
        assert not [a for a in _alerts(client) if a.type == "camera_offline" and a.camera in on_c
                    and a.start_ts >= stopped_at - 1]  # a handover is no outage

        joined_at = time.time()
        hosts["b"] = _host(config, "b")  # b comes back: it takes its share, the others keep streaming
        _wait(lambda: sorted(collections.Counter(_holders(client).values()).values()) == [3, 3]
              and all(streaming_since(client, joined_at).get(c) == "b" for c, n in _holders(client).items() if n == "b"),
              90, "b running its share again")
    finally:
        for host in hosts.values():
            host.stop()
    alerts = _alerts(client)
    said = collections.Counter((a.event_id, a.state) for a in alerts if a.state in ("new", "end"))
    assert not [key for key, count in said.items() if count > 1], "an alert went out twice"
    ended = {a.event_id for a in alerts if a.state == "end"}
    assert {a.event_id for a in alerts if a.state == "new"} <= ended  # every event ended: by its rule, a stop or a takeover
