"""The index on PostgreSQL (a real server, Debian's postgresql, started here on 127.0.0.1): the same queries give
the same answers as on SQLite, an existing SQLite index moves over keeping everything, hosts starting together
migrate once, and writes wait out the server's restart."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import pytest
import yaml

from streamer.alerts.messages import index_record
from streamer.index import db, migrate, search, store
from streamer.index.patient import PatientWrites
from streamer.index.rows import EventRecord, FindingRow, GapRow, ReviewRow, SegmentRow, TrackSecond
from streamer.index.writer import IndexWriter
from testkit.alerts import alert
from testkit.postgres_server import PostgresServer, binaries

pytestmark = pytest.mark.skipif(
    binaries() is None, reason="PostgreSQL is not installed (scripts/install_system_deps.sh)"
)
START = 1795251600.0


@pytest.fixture(scope="module")
def postgres():
    server = PostgresServer().start()
    yield server
    server.remove()


_databases = iter(range(1, 10_000))


@pytest.fixture
def pg_url(postgres) -> str:
    return postgres.create_database(f"index_{next(_databases)}")


def event(
    event_id: str,
    camera: str,
    kind: str,
    start: float,
    state: str = "new",
    observed: float | None = None,
    verification: str = "pending",
    zone: str | None = None,
    description: str | None = None,
) -> EventRecord:
    message = alert(
        event_id,
        state,
        start,
        start + 4 if state == "end" else None,
        camera=camera,
        kind=kind,
        zone=zone,
        track_id=7,
        verification=verification,
        description=description,
        snapshot=f"snapshots/{event_id}.jpg",
        model="m",
    )
    return index_record(message, {"new": 0, "end": 1}.get(state, 2), observed or start)


def fill(conn) -> None:
    """The same writes, through the index's own functions, whatever the database."""
    with db.transaction(conn):
        for n in range(6):
            store.insert_segment(
                conn,
                SegmentRow(
                    "lobby", START + 4 * n, START + 4 * n + 4, f"lobby/{n}.mp4", "h264", 25.0, 100, 50_000 + n, 0.0
                ),
            )
        store.insert_gap(conn, GapRow("lobby", START + 24, START + 30, "reconnect"))
        store.record_event(conn, event("fall-1", "lobby", "fall", START + 3))
        store.record_event(conn, event("fall-1", "lobby", "fall", START + 3, "end", START + 8))
        store.record_event(
            conn, event("fall-1", "lobby", "fall", START + 3, "new", START + 1)
        )  # late and older: ignored
        store.record_event(conn, event("zone-1", "yard", "zone_intrusion", START + 10, zone="loading_dock"))
        store.record_event(conn, event("line-1", "yard", "line_crossing", START + 15))
        store.record_finding(
            conn,
            FindingRow(
                "job-1",
                "fall-1",
                "lobby",
                "verify",
                "answered",
                "confirmed",
                "high",
                "worker slips off a ladder",
                "A worker slips off the ladder.",
                START + 3,
                START + 5,
                START,
                START + 9,
                7,
                None,
                "qwen",
                "{}",
                None,
                START + 20,
            ),
        )
        # a camera message after the VLM's verdict must not turn it back into pending
        store.record_event(conn, event("fall-1", "lobby", "fall", START + 3, "update", START + 21))
        store.insert_track_seconds(
            conn, [TrackSecond("lobby", int(START) + s, 7, "person", (1, 2, 3, 4), 0.9) for s in (0, 1, 2, 5, 6)]
        )
        store.record_review(conn, ReviewRow("fall-1", "false_alarm", "a drill", "ann", START + 30))
        store.record_review(conn, ReviewRow("fall-1", "true_alarm", None, "bob", START + 40))


def answers(conn) -> dict:
    """Every read the API, the questions and retention make, as plain data."""
    cams = ["lobby", "yard"]
    return {
        "events": [
            e.__dict__ | {"vlm": e.vlm.job_id if e.vlm else None}
            for e in search.events_between(conn, cams, START - 10, START + 100)
        ],
        "keywords": {
            w: sorted(search.keyword_scores(conn, search.search_terms([w]), ["fall-1", "zone-1", "line-1"]))
            for w in ("ladder", "loading", "falling", "crossing", "nothing")
        },
        "presence": search.presence(conn, ["lobby"], ["person"], START - 1, START + 10),
        "coverage": search.coverage(conn, cams, START + 2, START + 10),
        "extent": (search.earliest(conn, cams), search.latest(conn, cams)),
        "labels": sorted(search.labels_seen(conn, tracks_too=True)),
        "latest": [e["event_id"] for e in store.latest_events(conn, types=["fall", "line_crossing"])],
        "none": store.latest_events(conn, cameras=[]),
        "confirmed": [e["event_id"] for e in store.latest_events(conn, verifications=["confirmed"])],
        "states": store.event_states(conn, "fall-1"),
        "reviews": store.reviews_of(conn, "fall-1"),
        "latest_review": store.latest_review(conn, "fall-1"),
        "reviewed": store.reviewed_between(conn, START, START + 100),
        "reviewed_events": [
            (p["event_id"], r.verdict) for p, r in store.reviewed_events(conn, START, START + 100, cams)
        ],
        "day": store.day_events(conn, "lobby", START - 100, START + 100),
        "segments": store.segments_overlapping(conn, "lobby", START + 5, START + 9),
        "bytes": store.recorded_bytes(conn),
        "gaps": store.gaps_of(conn, "lobby"),
        "tracks": store.track_seconds(conn, "lobby", START, START + 2),
        "seq": store.next_seq(conn, "fall-1"),
        "findings": store.findings_of(conn, "fall-1"),
        "clips": store.event_clips(conn),
        "payload": store.latest_payload(conn, "fall-1"),
    }


def test_the_same_queries_give_the_same_answers_on_sqlite_and_postgres(tmp_path: Path, pg_url: str) -> None:
    lite, pg = db.connect(tmp_path), db.connect(pg_url)
    fill(lite)
    fill(pg)
    on_sqlite, on_postgres = answers(lite), answers(pg)
    for key in on_sqlite:
        assert on_postgres[key] == on_sqlite[key], key
    assert on_postgres["keywords"] == {
        "ladder": ["fall-1"],
        "loading": ["zone-1"],
        "falling": ["fall-1"],
        "crossing": ["line-1"],
        "nothing": [],
    }  # stemmed, zones and VLM words found
    (fall, *_) = on_postgres["events"]
    assert on_postgres["payload"]["state"] == "update" and fall["verification"] == "confirmed"  # the late 'new' ignored
    assert on_postgres["day"][0][-1] == "true_alarm" and on_postgres["reviewed_events"] == [("fall-1", "true_alarm")]
    assert [(p.start_s - int(START), p.end_s - int(START)) for p in on_postgres["presence"]] == [(0, 2), (5, 6)]
    assert on_postgres["coverage"].footage_s == pytest.approx(8.0)
    lite.close()
    pg.close()


def test_hosts_starting_together_migrate_once(pg_url: str) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        try:
            db.connect(pg_url).close()
        except BaseException as error:  # noqa: BLE001 - the assertion below says which
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(6)]
    [thread.start() for thread in threads]
    [thread.join(60) for thread in threads]
    assert errors == []
    conn = db.connect(pg_url, readonly=True)
    assert migrate.current(conn) == migrate.head()
    with pytest.raises(Exception, match="read-only"):  # a reader's connection cannot write
        store.insert_gap(conn, GapRow("x", 1, 2, "r"))
    conn.close()


def test_index_writes_wait_out_a_postgres_restart(postgres: PostgresServer, pg_url: str) -> None:
    writer = IndexWriter(pg_url, "test")  # the worker's events and track summary, on a thread
    recorder = PatientWrites(pg_url, "recorder-lobby")  # the recorder's segment rows, in place
    writer.add_event(event("before", "lobby", "fall", START))
    assert writer.flush(10)
    postgres.stop()
    try:
        for n in range(20):  # handed over while the database is away: nothing is lost, nothing blocks
            writer.add_event(event(f"during-{n}", "lobby", "fall", START + n))
        writer.add_track_seconds(
            [TrackSecond("lobby", int(START) + s, 1, "person", (0, 0, 1, 1), 0.5) for s in range(50)]
        )
        for n in range(3):
            row = SegmentRow("lobby", START + 4 * n, START + 4 * n + 4, f"lobby/{n}.mp4", "h264", 25.0, 100, 10, 0.0)
            assert not recorder.write(lambda conn, row=row: store.insert_segment(conn, row))  # kept, in order
        time.sleep(3.0)
    finally:
        postgres.start()
    row = SegmentRow("lobby", START + 12, START + 16, "lobby/3.mp4", "h264", 25.0, 100, 10, 0.0)
    assert recorder.write(lambda conn: store.insert_segment(conn, row))  # the next one takes the waiting ones along
    recorder.close()
    assert writer.flush(30)
    assert writer.retried_batches >= 1
    writer.close()
    conn = db.connect(pg_url, readonly=True)
    found = {e["event_id"] for e in store.latest_events(conn, limit=1000)}
    assert found == {"before"} | {f"during-{n}" for n in range(20)}
    assert len(store.track_seconds(conn, "lobby", START, START + 48)) == 50
    assert [s.path for s in store.segments_of(conn, "lobby")] == [f"lobby/{n}.mp4" for n in range(4)]
    conn.close()


def test_an_existing_sqlite_index_moves_to_postgres_keeping_everything(recorded, tmp_path: Path, pg_url: str) -> None:
    storage = tmp_path / "data"
    shutil.copytree(recorded.storage, storage, ignore=shutil.ignore_patterns("query", "redis"))
    lite = db.connect(storage)
    fall = next(e for e in store.latest_events(lite) if e["type"] == "fall")
    with db.transaction(lite):  # a person's review and a VLM answer, as the demo's console and worker leave them
        store.record_review(lite, ReviewRow(fall["event_id"], "true_alarm", "seen on site", "ann", time.time()))
        store.record_finding(
            lite,
            FindingRow(
                "job-9",
                fall["event_id"],
                "lobby",
                "verify",
                "answered",
                "confirmed",
                "high",
                "person falls",
                "A person falls to the floor.",
                fall["start_ts"],
                None,
                fall["start_ts"] - 3,
                fall["start_ts"] + 5,
                1,
                None,
                "qwen",
                "{}",
                None,
                time.time(),
            ),
        )
    before = _every_row(lite)
    lite.close()
    config = yaml.safe_load(recorded.config.read_text())
    config["storage_dir"] = str(storage)
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump(config))
    copied = _streamer("index", "copy", "--config", str(site), "--to", pg_url)
    assert copied.returncode == 0, copied.stderr
    assert json.loads(copied.stdout)["total"] == sum(len(rows) for rows in before.values())
    again = _streamer("index", "copy", "--config", str(site), "--to", pg_url)
    assert again.returncode == 1 and "already has rows" in again.stderr  # never copied twice
    pg = db.connect(pg_url, readonly=True)
    assert _every_row(pg) == before  # every event, state, review, VLM answer, segment, gap and track row
    pg.close()
    config["index"] = {"url": pg_url}
    (storage / "index.sqlite3").rename(storage / "index.sqlite3.moved")  # the answer cannot come from the file
    site.write_text(yaml.safe_dump(config))
    asked = _streamer("query", "when did the person fall", "--json", "--config", str(site))
    assert asked.returncode == 0, asked.stderr[-2000:]
    top = json.loads(asked.stdout)["hits"][0]
    truth = next(t.start_ts for t in recorded.truths if t.type == "fall")
    assert (top["camera"], top["type"]) == ("lobby", "fall") and abs(top["start_ts"] - truth) <= 1.0
    assert top["verification"] == "confirmed"  # the VLM answer came along
    with av.open(str(storage / top["clip"])) as container:
        assert sum(1 for _ in container.decode(video=0)) > 25


def _every_row(conn) -> dict[str, list]:
    from sqlalchemy import select

    from streamer.index.schema import metadata

    out = {}
    for table in metadata.sorted_tables:
        columns = [c for c in table.c if c.name != "id"]
        out[table.name] = sorted(tuple(row) for row in conn.execute(select(*columns)))
    return out


def _streamer(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streamer", *args], capture_output=True, text=True, timeout=300)


def test_api_replicas_on_one_database_share_users_sessions_and_events(
    recorded, tmp_path: Path, pg_url: str, redis_server
) -> None:
    """Two `streamer serve` behind one load balancer: a login on one is a login on both, a logout everywhere
    ends it on both, and a review given through one is in the other's answers."""
    import httpx

    from streamer.index.copy import copy_index
    from testkit.api import Served

    lite, pg = db.connect(recorded.storage, readonly=True), db.connect(pg_url)
    copy_index(lite, pg)
    lite.close()
    pg.close()
    config = yaml.safe_load(recorded.config.read_text())
    config.update(storage_dir=str(tmp_path / "replica"), index={"url": pg_url}, redis={"url": redis_server.url})
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump(config))
    added = _streamer_input(
        "correct horse battery", "users", "add", "ann", "--role", "admin", "--password-stdin", "-c", str(site)
    )
    assert added.returncode == 0 and "the site's database" in added.stdout, added.stderr
    assert not (tmp_path / "replica" / "users.sqlite3").exists()  # not in a file of this host
    with Served(site) as first, Served(site) as second:
        client = httpx.Client(base_url=first.base, timeout=60)
        login = client.post("/login", json={"name": "ann", "password": "correct horse battery"})
        assert login.status_code == 200, login.text
        csrf = login.json()["csrf"]
        other = httpx.Client(base_url=second.base, cookies=client.cookies, timeout=60, headers={"x-csrf-token": csrf})
        assert other.get("/me").json()["name"] == "ann"  # the session made on the first is known to the second
        fall = next(e for e in other.get("/events").json()["events"] if e["type"] == "fall")
        reviewed = other.post(f"/events/{fall['event_id']}/review", json={"verdict": "true_alarm", "note": "seen"})
        assert reviewed.status_code == 200, reviewed.text
        detail = client.get(f"/events/{fall['event_id']}").json()
        assert [r["reviewer"] for r in detail["reviews"]] == ["ann"]
        assert _streamer_input("", "users", "logout", "ann", "-c", str(site)).returncode == 0
        assert client.get("/me").status_code == 401 and other.get("/me").status_code == 401


def _streamer_input(stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamer", *args], input=stdin, capture_output=True, text=True, timeout=120
    )
