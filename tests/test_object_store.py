"""Recordings on an S3-compatible object store (moto's server on 127.0.0.1, through boto3): a host records to its
own disk first and uploads every finished segment, event clip and snapshot; questions, clip exports and the
console then read them from the store with range requests once the local copies are gone; retention deletes
there; and an outage of the store costs nothing but local disk."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import av
import httpx
import pytest
import yaml

from streamer.config.recording import StorageConfig
from streamer.index import db, store
from streamer.media.objects import ObjectStore
from streamer.media.outbox import OutboxReader, UploadOutbox
from streamer.media.uploader import Uploader, UploadState
from testkit.s3_server import CREDENTIALS, S3Server

BUCKET = "footage"


@pytest.fixture(scope="module")
def s3():
    server = S3Server().start()
    server.client().create_bucket(Bucket=BUCKET)
    yield server
    server.stop()


def storage_section(s3: S3Server, prefix: str, keep_h: float = 0.0, timeout_s: float = 10.0) -> dict:
    return {
        "url": f"s3://{BUCKET}/{prefix}",
        "s3": {
            "endpoint_url": s3.endpoint,
            "region": "us-east-1",
            "access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "local_keep_h": keep_h,
            "timeout_s": timeout_s,
        },
    }


@pytest.fixture(scope="module")
def uploaded(s3: S3Server, tmp_path_factory, models_dir: Path, bikes_mp4: Path):
    """The question scenes (a fall on `lobby`, a walk on `yard-cam`) recorded by `streamer run` with storage.url:
    every local copy is deleted once uploaded (local_keep_h: 0)."""
    from testkit.query_scenes import build

    section = "storage: " + json.dumps(storage_section(s3, "site-a"))  # JSON is YAML, on one line
    return build(tmp_path_factory.mktemp("uploaded"), models_dir, bikes_mp4, vlm_section=section, with_plaza=False)


def test_every_finished_file_is_uploaded_and_the_local_copies_go(uploaded, s3: S3Server) -> None:
    objects = s3.keys(BUCKET)
    conn = db.connect(uploaded.storage, readonly=True)
    segments = store.segments_of(conn)
    events = store.latest_events(conn)
    conn.close()
    assert segments and {f"site-a/{s.path}": s.bytes for s in segments}.items() <= objects.items()  # whole
    for event in events:  # each event's snapshot, and its clip once it ended
        assert f"site-a/{event['snapshot']}" in objects
        assert event["clip"] is None or f"site-a/{event['clip']}" in objects
    assert any(event["clip"] for event in events)
    assert not list((uploaded.storage / "recordings").rglob("*.mp4"))  # nothing left on the local disk
    assert OutboxReader(uploaded.storage).pending() == []  # every listed file taken


def test_questions_and_exports_read_the_recordings_from_the_store(uploaded) -> None:
    asked = _streamer("query", "when did the person fall", "--json", "--config", str(uploaded.config))
    assert asked.returncode == 0, asked.stderr[-2000:]
    top = json.loads(asked.stdout)["hits"][0]
    truth = next(t.start_ts for t in uploaded.truths if t.type == "fall")
    assert (top["camera"], top["type"]) == ("lobby", "fall") and abs(top["start_ts"] - truth) <= 1.0
    assert _frames(uploaded.storage / top["clip"]) > 25  # cut from the objects with range requests
    out = uploaded.storage.parent / "export.mp4"
    exported = _streamer(
        "clip",
        "export",
        "--config",
        str(uploaded.config),
        "--camera",
        "yard-cam",
        "--since",
        str(uploaded.origin_ts + 61),
        "--until",
        str(uploaded.origin_ts + 66),
        "-o",
        str(out),
    )
    assert exported.returncode == 0, exported.stderr[-2000:]
    assert _frames(out) >= 4 * 25 - 25


def test_the_console_plays_an_event_clip_from_the_store_with_range_requests(uploaded, s3: S3Server) -> None:
    from testkit.api import Served

    tree = yaml.safe_load(uploaded.config.read_text())
    tree["api"] = {"auth": "none"}
    config = uploaded.storage.parent / "serve.yaml"
    config.write_text(yaml.safe_dump(tree))
    conn = db.connect(uploaded.storage, readonly=True)
    event = next(e for e in store.latest_events(conn) if e["clip"])
    conn.close()
    whole = s3.client().get_object(Bucket=BUCKET, Key=f"site-a/{event['clip']}")["Body"].read()
    with Served(config) as served:
        part = httpx.get(
            f"{served.base}/events/{event['event_id']}/clip", headers={"range": "bytes=100-1123"}, timeout=30
        )
        assert part.status_code == 206 and part.content == whole[100:1124]
        assert (
            part.headers["content-range"] == f"bytes 100-1123/{len(whole)}" and part.headers["accept-ranges"] == "bytes"
        )
        full = httpx.get(f"{served.base}/events/{event['event_id']}/clip", timeout=30)
        assert full.status_code == 200 and full.content == whole
        snapshot = httpx.get(f"{served.base}/events/{event['event_id']}/snapshot", timeout=30)
        assert snapshot.status_code == 200 and snapshot.content[:3] == b"\xff\xd8\xff"
        key = f"site-a/{event['clip']}"
        s3.client().delete_object(Bucket=BUCKET, Key=key)  # as if its host had not uploaded it yet
        try:
            for range_header in ({"range": "bytes=0-99"}, {"range": "bytes=-100"}, {}):
                pending = httpx.get(f"{served.base}/events/{event['event_id']}/clip", headers=range_header, timeout=30)
                assert pending.status_code == 503 and pending.headers["retry-after"] == "5", range_header
                assert "not in the object store yet" in pending.json()["error"]
        finally:
            s3.client().put_object(Bucket=BUCKET, Key=key, Body=whole)


def test_retention_deletes_from_the_store(uploaded, s3: S3Server) -> None:
    from streamer.config.loader import load_config
    from streamer.media.files import MediaFiles
    from streamer.record.retention import Retention

    config = load_config(uploaded.config)
    files = MediaFiles.for_storage(config.storage_dir, config.storage)
    before = s3.keys(BUCKET)
    report = Retention(
        config.storage_dir, {n: c.record for n, c in config.cameras.items()}, None, files=files
    ).run_once(now=time.time() + 60 * 86_400)  # two months on: all of it is old
    after = s3.keys(BUCKET)
    assert report.deleted_segments > 0 and report.freed_bytes > 0
    conn = db.connect(uploaded.storage, readonly=True)
    assert store.segments_of(conn) == []
    conn.close()
    gone = {key for key in before if key.startswith("site-a/recordings/")}
    assert gone and not gone & set(after)


def test_an_outage_of_the_store_costs_only_local_disk(s3: S3Server, tmp_path: Path) -> None:
    storage = StorageConfig.model_validate(storage_section(s3, "outage", keep_h=1.0, timeout_s=1.0))
    states: list[tuple[str, str]] = []
    uploader = Uploader(
        tmp_path,
        ObjectStore(storage),
        keep_local_s=3600,
        on_state=lambda c: states.append((c.state, c.reason)),
        every_s=0.2,
    )
    outbox = UploadOutbox(tmp_path)

    def finish(n: int) -> None:
        path = tmp_path / "recordings" / "cam" / f"{n:03d}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes([n]) * (10_000 + n))
        outbox.add(f"recordings/cam/{n:03d}.mp4")

    uploader.start()
    for n in range(3):
        finish(n)
    _wait(lambda: uploader.uploaded_files == 3)
    s3.pause()
    try:
        for n in range(3, 10):  # finished while the store cannot be reached
            finish(n)
        # the state changes before its report is made (on the uploader's thread): wait for both
        _wait(
            lambda: uploader.state is UploadState.BACKLOGGED and states and states[-1][0] == "backlogged", timeout_s=30
        )
        files, size = uploader.reader.backlog()
        assert files >= 6 and size >= 60_000  # waiting on the local disk, and said so
        assert states[-1][0] == "backlogged" and "wait on the local disk" in states[-1][1]
    finally:
        s3.resume()
    _wait(lambda: uploader.uploaded_files == 10 and uploader.state is UploadState.CAUGHT_UP, timeout_s=60)
    uploader.stop()
    assert states[-1][0] == "caught_up"
    keys = s3.keys(BUCKET)
    assert all(keys[f"outage/recordings/cam/{n:03d}.mp4"] == 10_000 + n for n in range(10))  # all, whole
    assert uploader.reader.pending() == []


def _wait(condition, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def _streamer(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streamer", *args], capture_output=True, text=True, timeout=300)
