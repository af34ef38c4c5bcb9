"""Three hosts, one site (issue 24): three real `streamer run --node` processes on one config, one real
redis-server, one PostgreSQL (the index) and one S3-compatible server (the recordings), each host with its own
local folder, six cameras: five replayed live from looping files and one RTSP camera (GStreamer's RTSP server).
Every camera runs on exactly one host; a host
SIGKILLed with its whole process group has its cameras streaming on the others within 15 s, with a
`camera_offline` alert and its `end` for each, and no alert doubled; a clean stop hands its cameras over at once
with no offline alert; a host that joins takes its share. PostgreSQL and the object store away together for 20 s
lose nothing; and a fourth process, `streamer query` and `streamer serve`, sees every host's events and plays
their clips from the object store."""

from __future__ import annotations

import collections
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import av
import httpx
import pytest
import yaml

from streamer.alerts.payload import AlertPayload
from testkit.postgres_server import PostgresServer
from testkit.redis_server import RedisServer
from testkit.rtsp import RtspServer, free_port
from testkit.s3_server import CREDENTIALS, S3Server
from testkit.service import Service
from testkit.site_hosts import CAMERAS, latest_streaming, said_between, shares, site_config, streaming_since
from testkit.site_hosts import holders as _holders

FAILOVER_S = 15.0


BUCKET = "site-footage"
OUTAGE_S = 20.0


@dataclass
class Site:
    config: Path
    redis: RedisServer
    postgres: PostgresServer
    s3: S3Server


@pytest.fixture
def site(tmp_path, models_dir, bikes_mp4) -> Site:
    server = RedisServer(tmp_path / "redis").start()
    postgres = PostgresServer().start()
    s3 = S3Server().start()
    s3.client().create_bucket(Bucket=BUCKET)
    camera = RtspServer(free_port(), fps=10, size="640x272").start()  # the frame of bikes.mp4, for the same zone
    storage = {
        "url": f"s3://{BUCKET}/site",
        "s3": {
            "endpoint_url": s3.endpoint,
            "region": "us-east-1",
            "access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "local_keep_h": 0,
            "timeout_s": 3,
        },
    }
    config = site_config(
        tmp_path,
        bikes_mp4,
        models_dir,
        server.url,
        index_url=postgres.create_database("site"),
        storage=storage,
        live_every_s=1,
        rtsp_url=camera.url,
    )
    yield Site(config, server, postgres, s3)
    camera.stop()
    server.stop()
    s3.stop()
    postgres.remove()


def _host(config: Path, node: str) -> Service:
    return Service(config, env={"STREAMER_NODE": node})


def _site(client) -> list[tuple]:
    """The site's own entries on the health stream (leases acquired, handed over, lost), for failure messages."""
    return [
        (e["camera"], e["state"], e.get("node"), e["reason"][:60])
        for e in (json.loads(fields[b"data"]) for _, fields in client.xrange("streamer:health"))
        if e["component"] == "site"
    ]


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


def test_three_hosts_are_one_site_through_failover_outages_and_questions(site: Site) -> None:
    config, client = site.config, site.redis.client()
    hosts = {node: _host(config, node) for node in ("a", "b", "c")}
    try:
        _wait(
            lambda: set(streaming_since(client)) == set(CAMERAS) and all(_holders(client).values()),
            120,
            "all six cameras streaming",
        )
        time.sleep(3)  # the shares settle: a host that started first gives back what it took alone
        holders = _wait(lambda: shares(client) == [2, 2, 2] and _holders(client), 30, "two cameras a host")
        on_b = sorted(camera for camera, node in holders.items() if node == "b")

        killed_at = time.time()
        hosts.pop("b").kill()  # SIGKILL, with its workers and engine: no lease is handed over
        moved = _wait(
            lambda: (s := streaming_since(client, killed_at)) and all(c in s for c in on_b) and s,
            FAILOVER_S + 5,
            "b's cameras streaming elsewhere",
        )
        failover_s = time.time() - killed_at
        assert failover_s < FAILOVER_S, failover_s
        assert {moved[camera] for camera in on_b} <= {"a", "c"}
        _wait(lambda: set(_holders(client).values()) == {"a", "c"}, 15, "every camera held by a or c")
        offline = _wait(
            lambda: [a for a in _alerts(client) if a.type == "camera_offline" and a.camera in on_b],
            10,
            "camera_offline alerts",
        )
        _wait(
            lambda: (
                len([a for a in _alerts(client) if a.type == "camera_offline" and a.camera in on_b]) == 2 * len(on_b)
            ),
            10,
            f"each offline alert's new and end (b ran {on_b}; offline alerts: "
            f"{[(a.camera, a.state) for a in _alerts(client) if a.type == 'camera_offline']}; site: {_site(client)})",
        )
        offline = [a for a in _alerts(client) if a.type == "camera_offline" and a.camera in on_b]
        for camera in on_b:
            new, end = [a for a in offline if a.camera == camera]
            assert (new.state, end.state) == ("new", "end") and new.event_id == end.event_id
            assert new.start_ts <= killed_at + 1.5 and end.end_ts - new.start_ts < FAILOVER_S + 2
            assert "host b stopped answering" in new.description

        stopped_at = time.time()
        on_c = sorted(camera for camera, node in _holders(client).items() if node == "c")
        hosts.pop("c").stop()  # a clean stop: its cameras are handed over at once
        _wait(
            lambda: (
                set(_holders(client).values()) == {"a"} and all(c in streaming_since(client, stopped_at) for c in on_c)
            ),
            25,
            "c's cameras streaming on a",
        )
        assert not [
            a
            for a in _alerts(client)
            if a.type == "camera_offline" and a.camera in on_c and a.start_ts >= stopped_at - 1
        ]  # a handover is no outage

        joined_at = time.time()
        hosts["b"] = _host(config, "b")  # b comes back: it takes its share, the others keep streaming
        _wait(
            lambda: (
                shares(client) == [3, 3]
                and all(
                    streaming_since(client, joined_at).get(c) == "b" for c, n in _holders(client).items() if n == "b"
                )
            ),
            90,
            "b running its share again",
        )
        _outage_loses_nothing(site, client)
        _a_fourth_process_sees_every_host(site, client, moved=on_b[0])
    finally:
        for host in hosts.values():
            host.stop()
    alerts = _alerts(client)
    said = collections.Counter((a.event_id, a.state) for a in alerts if a.state in ("new", "end"))
    assert not [key for key, count in said.items() if count > 1], "an alert went out twice"
    ended = {a.event_id for a in alerts if a.state == "end"}
    assert {
        a.event_id for a in alerts if a.state == "new"
    } <= ended  # every event ended: by its rule, a stop or a takeover


def _health(client, component: str) -> list[tuple[str, str]]:
    return [
        (e["camera"], e["state"])
        for e in (json.loads(f[b"data"]) for _, f in client.xrange("streamer:health"))
        if e["component"] == component
    ]


def _outage_loses_nothing(site: Site, client) -> None:
    """PostgreSQL stopped and the object store cut off together for 20 s while every camera records: the rows and
    files wait on the hosts, go in when they return, and the health stream says so."""
    from streamer.index import db, store

    def recording_where_they_run() -> bool:  # the cameras that just moved have indexed a segment on their new host
        started = latest_streaming(client)
        conn = db.connect(site.postgres.url("site"), readonly=True)
        try:
            return all(any(s.start_ts >= started[c] - 1 for s in store.segments_of(conn, c)) for c in CAMERAS)
        finally:
            conn.close()

    _wait(recording_where_they_run, 30, "every camera recording where it runs now")
    began = time.time()
    site.postgres.stop()
    site.s3.pause()
    try:
        time.sleep(OUTAGE_S)
    finally:
        site.s3.resume()
        site.postgres.start()
    ended = time.time()
    _wait(
        lambda: (
            ("uploads", "caught_up") in _health(client, "uploads")
            and any(state == "reachable" for _, state in _health(client, "index"))
        ),
        60,
        "the hosts caught up",
    )
    assert ("uploads", "backlogged") in _health(client, "uploads")
    assert any(state == "unreachable" for _, state in _health(client, "index"))

    def recorded() -> dict[str, list]:
        conn = db.connect(site.postgres.url("site"), readonly=True)
        try:
            return {
                c: [s for s in store.segments_of(conn, c) if s.end_ts > began - 5 and s.start_ts < ended + 5]
                for c in CAMERAS
            }
        finally:
            conn.close()

    def whole(segments) -> bool:
        return (
            bool(segments)
            and all(b.start_ts - a.end_ts < 1.0 for a, b in zip(segments, segments[1:]))
            and segments[0].start_ts <= began
            and segments[-1].end_ts >= ended
        )

    try:
        found = _wait(
            lambda: (r := recorded()) and all(whole(segments) for segments in r.values()) and r,
            60,
            "every camera's recording through the outage in the index, without a hole",
        )
    except AssertionError:
        spans = {
            c: [(round(s.start_ts - began, 1), round(s.end_ts - began, 1)) for s in segments]
            for c, segments in recorded().items()
        }
        raise AssertionError(
            f"holes around the outage (seconds from its start, {ended - began:.0f} s long): {spans}; "
            f"health: {_health(client, 'index')[-6:]}; around it: {said_between(client, began - 15, began + 5)}"
        ) from None
    in_store = site.s3.keys(BUCKET)
    _wait(
        lambda: (
            all(in_store.get(f"site/{s.path}") == s.bytes for segments in found.values() for s in segments)
            or in_store.update(site.s3.keys(BUCKET))
        ),
        60,
        "every segment of the outage in the object store, whole",
    )


def _a_fourth_process_sees_every_host(site: Site, client, moved: str) -> None:
    """`streamer query` and `streamer serve` on their own folder (no recording of theirs): a camera that moved
    between hosts has its events in the answers, its clips from the object store, its live picture through Redis."""
    from testkit.api import Served

    events = [a for a in _alerts(client) if a.camera == moved and a.type == "zone_intrusion" and a.state == "new"]
    assert events, "no event on the camera that moved"
    tree = yaml.safe_load(site.config.read_text())
    tree["storage_dir"] = str(site.config.parent / "asker")
    tree["api"] = {"auth": "none"}
    asker = site.config.parent / "asker.yaml"
    asker.write_text(yaml.safe_dump(tree))
    asked = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamer",
            "query",
            "when did someone enter the crossing",
            "--camera",
            moved,
            "--since",
            "-1h",
            "--json",
            "-c",
            str(asker),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert asked.returncode == 0, asked.stderr[-2000:]
    hits = json.loads(asked.stdout)["hits"]
    starts = [a.start_ts for a in events]
    assert hits and all(min(abs(hit["start_ts"] - t) for t in starts) <= 1.0 for hit in hits if hit["source"] == "rule")
    with av.open(str(site.config.parent / "asker" / hits[0]["clip"])) as container:
        assert sum(1 for _ in container.decode(video=0)) > 5  # cut from the objects: the asker recorded nothing
    with Served(asker) as served:
        listed = httpx.get(f"{served.base}/events", params={"camera": moved}, timeout=30).json()["events"]
        assert {e["event_id"] for e in listed} >= {a.event_id for a in events[:3]}
        done = next(e for e in listed if e.get("clip"))
        answers = []

        def clip_served():  # a clip its host has not uploaded yet is 503 with Retry-After, never 410 (gone)
            answers.append(
                httpx.get(f"{served.base}/events/{done['event_id']}/clip", headers={"range": "bytes=0-99"}, timeout=30)
            )
            return answers[-1].status_code != 503 or answers[-1].headers.get("retry-after") is None

        _wait(clip_served, 60, "the clip uploaded")
        assert answers[-1].status_code == 206 and len(answers[-1].content) == 100, [a.status_code for a in answers]
        cameras = httpx.get(f"{served.base}/cameras", timeout=30).json()["cameras"]
        assert all(c["picture"] for c in cameras)  # every camera's live picture, from whichever host runs it
        picture = httpx.get(f"{served.base}/cameras/{moved}/live.jpg", timeout=30)
        assert picture.status_code == 200 and picture.content[:3] == b"\xff\xd8\xff"
