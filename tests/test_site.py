"""One site on many hosts (issue 24), its pieces against a real redis-server: the assignment (fair, stable, pins),
leases that make a camera one host's and fence a host that lost one, coordinators that share the cameras and take
over a dead host's with the time it went silent while a clean stop hands over at once, the events a dead host left
open ended once, and camera health as `camera_offline` alerts."""

from __future__ import annotations

import collections
import json
import time
from zoneinfo import ZoneInfo

import pytest

from streamer.alerts import deliver_script
from streamer.alerts.orphans import orphan_ends
from streamer.alerts.payload import AlertPayload
from streamer.alerts.publisher import Publisher
from streamer.alerts.redis_access import connect
from streamer.alerts.spool import Spool, SpoolRecord
from streamer.alerts.streams import StreamNames
from streamer.config.site import HealthConfig, SiteConfig
from streamer.runtime.camera_health import CameraHealth
from streamer.site.assign import assign
from streamer.site.coordinator import SiteCoordinator
from streamer.site.leases import Leases, lease_key
from testkit.alerts import alert
from testkit.redis_server import RedisServer
from testkit.waiting import wait_until

CAMERAS = {f"cam-{n}": None for n in range(6)}
UTC = ZoneInfo("UTC")


@pytest.fixture
def redis_server(tmp_path) -> RedisServer:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def test_the_assignment_is_fair_stable_and_keeps_pins() -> None:
    three = assign(CAMERAS, ["a", "b", "c"])
    assert sorted(collections.Counter(three.values()).values()) == [2, 2, 2]
    assert assign(CAMERAS, ["c", "b", "a"]) == three  # every host works out the same answer
    two = assign(CAMERAS, ["a", "c"])
    assert sorted(collections.Counter(two.values()).values()) == [3, 3]
    assert sum(three[c] != two[c] for c in CAMERAS) <= 3  # b's two, and at most one the load bound shifts
    pinned = assign({**CAMERAS, "door": "b"}, ["a", "b", "c"])
    assert pinned["door"] == "b" and max(collections.Counter(pinned.values()).values()) == 3
    assert assign({**CAMERAS, "door": "b"}, ["a", "c"])["door"] is None  # its host is gone: nobody runs it
    many = {f"c{n}": None for n in range(200)}
    ten, eleven = assign(many, [f"n{n}" for n in range(10)]), assign(many, [f"n{n}" for n in range(11)])
    assert max(collections.Counter(ten.values()).values()) == 20
    assert sum(ten[c] != eleven[c] for c in many) < 40  # a host joining moves few (its fair share is 18)


def test_a_lease_is_one_hosts_and_a_host_that_lost_it_can_no_longer_publish(redis_server, tmp_path) -> None:
    client = redis_server.client()
    a, b = Leases(client, "streamer", "a", 2.0), Leases(client, "streamer", "b", 2.0)
    held = a.acquire("cam-0", time.time())
    assert held is not None and held.fresh and held.value.startswith("a|") and held.previous == ""
    assert b.acquire("cam-0", time.time()) is None and a.renew("cam-0", held.value)
    publisher = Publisher(
        "cam-0",
        Spool(tmp_path / "a.jsonl"),
        redis_server.url,
        "streamer",
        1000,
        600,
        fence=(lease_key("streamer", "cam-0"), held.value),
    ).start()
    publisher.submit([SpoolRecord("m1", ("streamer:alerts",), '{"n": 1}')])
    assert wait_until(lambda: publisher.delivered == 1, 10)
    time.sleep(2.2)  # a stops renewing (it is cut off, say): the lease runs out and b takes the camera
    taken = b.acquire("cam-0", time.time())
    assert taken is not None and taken.token > held.token and taken.previous.startswith(held.value)
    publisher.submit([SpoolRecord("m2", ("streamer:alerts",), '{"n": 2}')])
    assert wait_until(lambda: publisher.fenced == 1, 10)
    publisher.close()
    assert [json.loads(f[b"data"])["n"] for _, f in client.xrange("streamer:alerts")] == [
        1
    ]  # a's second never went out
    assert not a.renew("cam-0", held.value) and b.renew("cam-0", taken.value)
    assert b.release("cam-0", taken.value) and b.handed_over("cam-0", taken.value)


def _coordinators(client, names, lease_s=2.0):
    config = SiteConfig(lease_s=lease_s, renew_every_s=0.5)
    takeovers = []
    made = {}
    for name in names:
        made[name] = SiteCoordinator(config, name, CAMERAS, client, "streamer", on_takeover=takeovers.append)
    return made, takeovers


def _tick(coordinators) -> dict[str, str]:
    """Each host's tick, and what its supervisor does after it: a camera held but no longer run has stopped."""
    for coordinator in coordinators.values():
        coordinator.tick()
        for camera in coordinator.held() - set(coordinator.running()):
            coordinator.stopped(camera)
    runs = {}
    for name, coordinator in coordinators.items():
        for camera in coordinator.running():
            assert camera not in runs, f"{camera} runs on {runs.get(camera)} and {name}"
            runs[camera] = name
    return runs


def _ticks(coordinators, seconds: float) -> dict[str, str]:
    """The hosts' ticks every 0.25 s for `seconds`, as their threads would."""
    deadline = time.monotonic() + seconds
    while True:
        runs = _tick(coordinators)
        if time.monotonic() >= deadline:
            return runs
        time.sleep(0.25)


def test_coordinators_share_the_cameras_take_a_dead_hosts_and_take_a_clean_stop_at_once(redis_server) -> None:
    client = redis_server.client()
    hosts, takeovers = _coordinators(client, ["a", "b", "c"])
    runs = _ticks(hosts, 0.6)  # a took every camera before it heard of b and c: it gives them back once it hears
    assert runs == {camera: node for camera, node in assign(CAMERAS, ["a", "b", "c"]).items()}
    assert sorted(collections.Counter(runs.values()).values()) == [2, 2, 2]
    b_cameras = sorted(c for c, n in runs.items() if n == "b")
    dead = hosts.pop("b")  # b is killed: it neither renews nor leaves
    silent_since = client.zscore("streamer:site:nodes", "b")
    runs = _ticks(hosts, 1.0)
    assert not set(b_cameras) & set(runs)  # its leases still run: nobody may take them yet
    started = time.monotonic()
    while set(runs) != set(CAMERAS) and time.monotonic() - started < 5:
        runs = _ticks(hosts, 0.25)
    assert len(runs) == 6 and set(runs.values()) == {"a", "c"}
    assert time.monotonic() - started < 2.0  # within the lease (2 s) and a tick of b's last renewal
    assert sorted(t.camera for t in takeovers) == b_cameras
    assert all(t.from_node == "b" and t.silent_since_ts == silent_since for t in takeovers)
    takeovers.clear()
    c = hosts["c"]
    c.leave()  # a clean stop: c leaves the site, its workers stop, then it hands its cameras over
    runs = _ticks({"a": hosts["a"], "c": c}, 0.3)
    assert set(runs.values()) == {"a", "c"}  # c's cameras wait for its workers to stop
    for camera in c.running():
        c.stopped(camera)
    c.stop()
    runs = _tick({"a": hosts["a"]})
    assert set(runs.values()) == {"a"} and len(runs) == 6 and not takeovers  # at once, and no failure said
    assert dead.running()  # the killed host's own view, never corrected: its writes are fenced (test above)


def test_the_events_a_dead_host_left_open_are_ended_once(redis_server, tmp_path) -> None:
    client = redis_server.client()
    streams = StreamNames()
    script = client.register_script(deliver_script.SCRIPT)

    def send(state: str, n: int, **extra) -> None:
        payload = _alert(n, state, **extra)
        keys, args = deliver_script.script_call("streamer", f"e{n}:{state}", [streams.alerts], payload, 1000, 600)
        script(keys=keys, args=args)

    send("new", 1)
    send("new", 2)
    send("end", 2, end_ts=1_795_000_003.0)
    assert client.smembers("streamer:open:cam-0") == {b"cam-0-0000000000000001"}
    first = orphan_ends(client, streams, "cam-0", 1_795_000_009.5, "host b stopped answering", UTC)
    second = orphan_ends(client, streams, "cam-0", 1_795_000_009.7, "host b stopped answering", UTC)
    assert len(first) == len(second) == 1 and first[0].id == second[0].id  # two hosts ending it: one message id
    for record in (first[0], second[0], first[0]):  # each sent, and a retry: one `end` goes out
        keys, args = deliver_script.script_call("streamer", record.id, list(record.streams), record.data, 1000, 600)
        script(keys=keys, args=args)
    assert orphan_ends(client, streams, "cam-0", 1_795_000_010.0, "again", UTC) == []  # nothing is left open
    sent = [json.loads(f[b"data"]) for _, f in client.xrange("streamer:alerts")]
    assert [(m["event_id"][-1], m["state"]) for m in sent] == [("1", "new"), ("2", "new"), ("2", "end"), ("1", "end")]
    last = AlertPayload.model_validate(sent[-1])
    assert last.end_ts == 1_795_000_009.5 and last.end_reason == "host b stopped answering"
    assert client.smembers("streamer:open:cam-0") == set()


def _alert(n: int, state: str, end_ts: float | None = None) -> str:
    start = 1_795_000_000.0 + n
    message = alert(f"cam-0-{n:016x}", state, start, end_ts, camera="cam-0", kind="fall", track_id=n, model="m.pt")
    return message.to_json()


def test_a_camera_offline_is_an_alert_of_its_own_said_once_by_every_host_that_sees_it(redis_server) -> None:
    submitted: list[SpoolRecord] = []
    health = CameraHealth(
        HealthConfig(offline_after_s=2), submitted.extend, lambda: connect(redis_server.url, 3), StreamNames(), UTC
    )
    health.source("cam-0", "reconnecting", "connection refused", ts=100.0)
    health.check(now=101.0)
    assert not submitted  # not yet offline: under offline_after_s
    health.check(now=102.5)
    other_host = CameraHealth(
        HealthConfig(offline_after_s=2), submitted.extend, lambda: connect(redis_server.url, 3), StreamNames(), UTC
    )
    other_host.source("cam-0", "failed", "gone", ts=100.5)
    other_host.check(now=103.0)  # the same outage, seen from another host (or a restarted run): no second event
    health.source("cam-0", "streaming", "", ts=104.0)
    alerts = [AlertPayload.model_validate_json(record.data) for record in submitted]
    assert [(a.type, a.state, a.start_ts, a.end_ts) for a in alerts] == [
        ("camera_offline", "new", 100.0, None),
        ("camera_offline", "end", 100.0, 104.0),
    ]
    assert alerts[0].description == "connection refused" and alerts[0].event_id == alerts[1].event_id
    submitted.clear()
    health.host_gone("cam-1", "b", 200.0)  # a takeover: offline at once, from when the host went silent
    health.source("cam-1", "streaming", "", ts=205.0)
    alerts = [AlertPayload.model_validate_json(record.data) for record in submitted]
    assert [(a.state, a.start_ts, a.end_ts, a.source.signal) for a in alerts] == [
        ("new", 200.0, None, "host_gone"),
        ("end", 200.0, 205.0, "host_gone"),
    ]
    assert "host b stopped answering" in alerts[0].description
