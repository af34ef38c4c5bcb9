"""Alerts are never lost and never doubled, against a real Redis server that is absent, killed, restarted,
or refuses the password; and subscribers in a consumer group get what a dead consumer left unacknowledged."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from streamer.alerts.publisher import Publisher
from streamer.alerts.spool import Spool, SpoolBusy, SpoolRecord
from streamer.alerts.streams import StreamNames
from testkit.redis_server import RedisServer
from testkit.rtsp import free_port
from testkit.waiting import wait_until

STREAMS = StreamNames("streamer")
REPO = Path(__file__).resolve().parent.parent
STREAMER = [sys.executable, "-m", "streamer"]


def record(n: int) -> SpoolRecord:
    data = json.dumps({"n": n, "event_id": f"e{n}", "state": "new"})
    return SpoolRecord(f"e{n}:0:new", (STREAMS.alerts, STREAMS.camera_alerts("cam")), data, time.time())


def publisher(spool_dir: Path, url: str, name: str = "alerts-cam") -> Publisher:
    return Publisher(name, Spool(spool_dir / f"{name}.jsonl"), url, "streamer", 10_000, 3600, timeout_s=0.5).start()


def delivered(server: RedisServer, stream: str = STREAMS.alerts) -> list[int]:
    with server.client() as client:
        return [json.loads(fields[b"data"])["n"] for _, fields in client.xrange(stream)]


@pytest.fixture
def server(tmp_path: Path):
    instance = RedisServer(tmp_path / "redis").start()
    yield instance
    instance.stop()


def test_spool_survives_a_torn_last_line_and_refuses_a_second_writer(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "a.jsonl")
    spool.append([record(1), record(2)])
    with pytest.raises(SpoolBusy):
        Spool(tmp_path / "a.jsonl")
    spool.close()
    with open(tmp_path / "a.jsonl", "ab") as torn:  # a crash in the middle of a write
        torn.write(b'{"id": "e3:0:new", "str')
    reopened = Spool(tmp_path / "a.jsonl")
    assert [r.id for r, _ in reopened.pending(10)] == ["e1:0:new", "e2:0:new"]
    reopened.append([record(3)])
    assert [r.id for r, _ in reopened.pending(10)] == ["e1:0:new", "e2:0:new", "e3:0:new"]
    reopened.mark_delivered(reopened.pending(10)[-1][1])
    assert reopened.pending(10) == [] and (tmp_path / "a.jsonl").stat().st_size == 0  # compacted once delivered


def test_redis_down_at_start_spools_then_delivers_in_order_when_it_comes(tmp_path: Path) -> None:
    port = free_port()
    pub = publisher(tmp_path / "spool", f"redis://127.0.0.1:{port}/0")
    pub.submit([record(n) for n in range(50)])
    time.sleep(1.0)
    assert pub.spool.backlog_bytes() > 0 and pub.delivered == 0
    server = RedisServer(tmp_path / "redis", port=port).start()
    try:
        assert wait_until(lambda: pub.delivered == 50)
        assert delivered(server) == list(range(50))
        assert delivered(server, STREAMS.camera_alerts("cam")) == list(range(50))
    finally:
        pub.close(2.0)
        server.stop()


def test_redis_killed_mid_run_and_restarted_loses_and_doubles_nothing(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis").start()
    pub = publisher(tmp_path / "spool", server.url)
    total = 400

    def produce() -> None:
        for n in range(total):
            pub.submit([record(n)])
            time.sleep(0.004)

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        assert wait_until(lambda: pub.delivered >= 60)
        server.kill()  # SIGKILL, mid-stream
        time.sleep(0.8)
        server.start()
        producer.join(30)
        assert wait_until(lambda: len(delivered(server)) >= total, timeout=30)
        time.sleep(0.5)
        assert delivered(server) == list(range(total))  # every one, once, in order
    finally:
        pub.close(2.0)
        server.stop()


def test_a_repeated_delivery_after_a_crash_is_dropped_by_redis(tmp_path: Path, server: RedisServer) -> None:
    """The offset file is written after XADD: a crash in between re-sends, and the dedupe key drops it."""
    first = publisher(tmp_path / "spool", server.url)
    first.submit([record(1), record(2)])
    assert wait_until(lambda: first.delivered == 2)
    first.close(1.0)
    (tmp_path / "spool" / "alerts-cam.jsonl").write_text(record(1).to_line().decode() + record(2).to_line().decode())
    (tmp_path / "spool" / "alerts-cam.jsonl.offset").write_text("0")  # as if the crash came before the offset
    again = publisher(tmp_path / "spool", server.url)
    again.submit([record(3)])
    assert wait_until(lambda: again.delivered == 1 and again.duplicates == 2)
    again.close(1.0)
    assert delivered(server) == [1, 2, 3]


def test_wrong_password_is_a_clear_error_spools_and_a_restart_with_the_right_one_delivers(
    tmp_path: Path, caplog
) -> None:
    server = RedisServer(tmp_path / "redis", password="right-secret").start()
    try:
        wrong = publisher(tmp_path / "spool", server.url_with_password("wrong-secret"))
        with caplog.at_level("ERROR", logger="streamer.alerts"):
            wrong.submit([record(n) for n in range(5)])
            assert wait_until(lambda: "authentication failed" in caplog.text, timeout=10)
        assert "wrong-secret" not in caplog.text  # the password is masked in the log line
        assert wrong.delivered == 0
        wrong.close(0.5)  # the service stops with the alerts still spooled
        fixed = publisher(tmp_path / "spool", server.url)
        assert wait_until(lambda: fixed.delivered == 5)
        fixed.close(1.0)
        assert delivered(server) == list(range(5))
    finally:
        server.stop()


KILLED_CONSUMER = """
import os, signal, sys, redis
client = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]))
entries = client.xreadgroup("ops", "doomed", {"streamer:alerts": ">"}, count=1)
print(entries[0][1][0][0].decode(), flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # read, never acknowledged
"""


def test_an_entry_read_by_a_killed_consumer_is_redelivered_to_another(tmp_path: Path, server: RedisServer) -> None:
    pub = publisher(tmp_path / "spool", server.url)
    pub.submit([record(7)])
    assert wait_until(lambda: pub.delivered == 1)
    pub.close(1.0)
    with server.client() as client:
        client.xgroup_create(STREAMS.alerts, "ops", id="0")
    doomed = subprocess.run(
        [sys.executable, "-c", KILLED_CONSUMER, str(server.port)], capture_output=True, text=True, timeout=30
    )
    assert doomed.returncode == -9
    entry_id = doomed.stdout.strip()
    time.sleep(0.6)
    tail = subprocess.run(
        [
            *STREAMER,
            "alerts",
            "tail",
            "--redis-url",
            server.url,
            "--group",
            "ops",
            "--consumer",
            "rescuer",
            "--claim-idle-s",
            "0.5",
            "--count",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert tail.returncode == 0, tail.stderr
    assert json.loads(tail.stdout)["n"] == 7
    with server.client() as client:
        assert client.xpending(STREAMS.alerts, "ops")["pending"] == 0  # the rescuer acknowledged it
        assert client.xrange(STREAMS.alerts)[0][0].decode() == entry_id


def test_tail_from_start_prints_every_alert_as_published_and_a_group_gets_each_once(
    tmp_path: Path, server: RedisServer
) -> None:
    pub = publisher(tmp_path / "spool", server.url)
    pub.submit([record(n) for n in range(6)])
    assert wait_until(lambda: pub.delivered == 6)
    pub.close(1.0)
    base = [*STREAMER, "alerts", "tail", "--redis-url", server.url, "--json"]
    plain = subprocess.run(
        [*base, "--from-start", "--count", "6", "--camera", "cam"], capture_output=True, text=True, timeout=60
    )
    assert [json.loads(line)["n"] for line in plain.stdout.splitlines()] == list(range(6))
    first = subprocess.run(
        [*base, "--group", "g", "--from-start", "--count", "4"], capture_output=True, text=True, timeout=60
    )
    second = subprocess.run([*base, "--group", "g", "--count", "2"], capture_output=True, text=True, timeout=60)
    got = [json.loads(line)["n"] for line in first.stdout.splitlines() + second.stdout.splitlines()]
    assert got == list(range(6))  # the group's position is shared: no entry twice, none skipped


def health_entries(server: RedisServer) -> list[dict]:
    with server.client() as client:
        return [json.loads(fields[b"data"]) for _, fields in client.xrange(STREAMS.health)]


def test_a_redis_outage_with_no_alert_in_it_is_reported_on_health_with_its_true_length(tmp_path: Path) -> None:
    """Nothing is published during the outage: only the heartbeat can see it start, and time it."""
    from streamer.alerts.health import HealthReporter

    server = RedisServer(tmp_path / "redis").start()
    pub = publisher(tmp_path / "spool", server.url, name="health")
    health = HealthReporter(pub, STREAMS, watch_redis=True)
    try:
        assert wait_until(lambda: pub.liveness.state.value == "up")
        time.sleep(1.2)
        killed = time.time()
        server.kill()
        assert wait_until(lambda: pub.liveness.state.value == "down", timeout=3.0)
        noticed_after = time.time() - killed
        time.sleep(max(0.0, 6.0 - (time.time() - killed)))
        server.start()
        true_length = time.time() - killed
        assert wait_until(lambda: len(health_entries(server)) >= 2, timeout=5.0)
        down, up = health_entries(server)[:2]
    finally:
        health.close(2.0)
        server.stop()
    assert noticed_after < 2.0  # before: only when the next alert needed Redis
    assert (down["component"], down["state"], up["state"]) == ("redis", "down", "up")
    assert abs(down["ts"] - killed) < 1.6
    assert up["since_ts"] == pytest.approx(down["ts"], abs=0.01)
    assert abs(up["down_s"] - true_length) < 1.6  # within a heartbeat (1 s) and a connect, at each end


def test_the_vlm_job_submitter_sees_an_outage_while_it_has_nothing_to_send(tmp_path: Path, server: RedisServer) -> None:
    from streamer.config.vlm import VlmConfig
    from streamer.vlm.submit import JobSubmitter

    vlm = VlmConfig.model_validate({"backend": "transformers"})
    submitter = JobSubmitter.for_redis("cam", tmp_path, vlm, server.url, STREAMS, 0.5, heartbeat_s=0.5)
    try:
        assert wait_until(lambda: submitter.liveness.state.value == "up", timeout=3.0)
        server.kill()
        assert wait_until(lambda: submitter.liveness.state.value == "down", timeout=2.0)
        server.start()
        assert wait_until(lambda: submitter.liveness.state.value == "up", timeout=3.0)
        assert submitter.liveness.outages == 1
    finally:
        submitter.close(2.0)


def test_alerts_arriving_during_an_outage_do_not_each_trigger_a_reconnect(tmp_path: Path) -> None:
    """Found by scripts/chaos.py: every submit woke the delivery thread for another attempt, so 10,000 alerts in an
    outage made 10,000 reconnects, the backoff's exponent overflowed and the delivery thread died."""
    port = free_port()
    attempts = []

    def counting_client():
        from streamer.alerts.redis_access import connect

        attempts.append(time.monotonic())
        return connect(f"redis://127.0.0.1:{port}/0", 0.5)

    pub = Publisher(
        "alerts-cam",
        Spool(tmp_path / "spool" / "a.jsonl"),
        f"redis://127.0.0.1:{port}/0",
        "streamer",
        10_000,
        3600,
        client_factory=counting_client,
        heartbeat_s=0.5,
    ).start()
    try:
        started = time.monotonic()
        for n in range(2000):
            pub.submit([record(n)])
            time.sleep(0.001)
        elapsed = time.monotonic() - started
        assert len(attempts) <= elapsed / 0.25 + 3  # bounded by the backoff (0.1 s doubling to 0.5 s), not by submits
        server = RedisServer(tmp_path / "redis", port=port).start()
        try:
            assert wait_until(lambda: pub.delivered == 2000, timeout=20)  # the thread is alive and catches up
        finally:
            server.stop()
    finally:
        pub.close(1.0)


def test_a_backoff_survives_any_number_of_attempts() -> None:
    from streamer.core.backoff import Backoff

    backoff = Backoff(0.1, 2.0)
    delays = [backoff.next_delay() for _ in range(5000)]
    assert max(delays) <= 2.0 and min(delays[10:]) >= 1.0
