"""The HTTP API as users reach it: `streamer serve` (a real uvicorn on 127.0.0.1) over the recordings of
`streamer run`; files by hit id only, whatever a request puts in the id; and `streamer run` serving it beside
the cameras."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest

from testkit.api import wait_for_api
from testkit.rtsp import free_port

SECRET = b"not for the api"


@pytest.fixture(scope="module")
def api(recorded) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamer", "serve", "--config", str(recorded.config), "--api-port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_api(base, process)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)


def test_query_returns_the_json_document(api: str, recorded) -> None:
    response = httpx.get(f"{api}/query", params={"q": "when did the person fall"}, timeout=60)
    assert response.status_code == 200
    doc = response.json()
    top = doc["hits"][0]
    fall = next(t.start_ts for t in recorded.truths if t.type == "fall")
    assert (
        top["type"] == "fall" and abs(top["start_ts"] - fall) <= 1.0 and doc["answer"].startswith("A person fell at ")
    )
    assert top["clip_url"] == f"/clips/{top['id']}" and top["snapshot_url"] == f"/snapshots/{top['id']}"


def test_clips_and_snapshots_are_served_by_hit_id(api: str, tmp_path: Path) -> None:
    doc = httpx.get(f"{api}/query", params={"q": "was anyone in the loading zone"}, timeout=60).json()
    top = doc["hits"][0]
    clip = httpx.get(f"{api}{top['clip_url']}", timeout=60)
    assert clip.status_code == 200 and clip.headers["content-type"] == "video/mp4"
    (tmp_path / "clip.mp4").write_bytes(clip.content)
    with av.open(str(tmp_path / "clip.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) > 25  # playable
    snapshot = httpx.get(f"{api}{top['snapshot_url']}", timeout=30)
    assert snapshot.status_code == 200 and snapshot.content[:3] == b"\xff\xd8\xff"


@pytest.mark.parametrize(
    "path",
    [
        "/clips/..%2F..%2Findex.sqlite3",
        "/clips/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/clips/..%5C..%5Cindex.sqlite3",
        "/snapshots/....%2F....%2Fsecret.txt",
        "/clips/%2Fetc%2Fpasswd",
        "/clips/0123456789abcdef",  # well formed, but no such hit
        "/clips/0123456789ABCDEF%00",
        "/snapshots/..",
    ],
)
def test_ids_that_try_to_leave_the_storage_folder_get_nothing(api: str, recorded, path: str) -> None:
    (recorded.storage / "secret.txt").write_bytes(SECRET)
    response = httpx.get(api + path, timeout=10)
    assert SECRET not in response.content and b"SQLite" not in response.content
    if response.url.path == "/":  # the client resolves "/snapshots/.." to "/" itself: the console's front page
        assert response.headers["content-type"].startswith("text/html")
    else:
        assert response.status_code == 404


def test_a_planted_record_pointing_outside_is_refused(api: str, recorded) -> None:
    """Even a hit record that names a path outside the storage folder (a tampered file) serves nothing."""
    planted = recorded.storage / "query" / "media" / "00000000000000aa.json"
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_text(
        json.dumps(
            {
                "camera": "lobby",
                "start_ts": 1,
                "end_ts": 2,
                "snapshot": "../../../../etc/passwd",
                "bbox": None,
                "label": "person",
                "track_id": None,
            }
        )
    )
    response = httpx.get(f"{api}/snapshots/00000000000000aa", timeout=10)
    assert response.status_code == 410 and b"root:" not in response.content and "refused" in response.json()["error"]


def test_bad_questions_are_400_with_the_reason(api: str) -> None:
    empty = httpx.get(f"{api}/query", params={"q": ""}, timeout=30)
    assert empty.status_code == 400 and "the question is empty" in empty.json()["error"]
    unknown = httpx.get(f"{api}/query", params={"q": "when did the person fall", "camera": "garage"}, timeout=30)
    assert unknown.status_code == 400 and "the cameras are: lobby, yard-cam, plaza" in unknown.json()["error"]


@pytest.mark.parametrize("since", ["99999999999999999999", "+999999999h", "1e400", "-99999999999d"])
def test_times_beyond_any_date_are_400_not_500(api: str, since: str) -> None:
    response = httpx.get(f"{api}/query", params={"q": "when did the person fall", "since": since}, timeout=30)
    assert response.status_code == 400, response.text
    assert since in response.json()["error"]


def test_streamer_run_serves_the_api_on_loopback_while_cameras_run(recorded, tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "live.yaml"
    text = recorded.config.read_text().replace("api: {enabled: false}", f"api: {{port: {port}}}")
    text = text.replace(f"storage_dir: {recorded.storage}", f"storage_dir: {tmp_path / 'data'}")
    lobby_only = text.split("\n  yard-cam:")[0].replace("start_time:", "realtime: true\n    start_time:")
    config.write_text(lobby_only)
    process = subprocess.Popen(
        [sys.executable, "-m", "streamer", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_api(f"http://127.0.0.1:{port}", process)
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
        assert health == {"status": "ok", "cameras": ["lobby"]}
        assert process.poll() is None  # answered while the camera was still playing (8 s at its own pace)
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output[-3000:]
    assert f"api listening url=http://127.0.0.1:{port}" in output


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"q": "x" * 5000}, 422),
        ({"q": "when did the person fall", "scan": "perhaps"}, 422),
        ({"q": "when did the person fall", "since": "yesterday\x00"}, 400),
        ({"q": "when did the person fall", "until": "2026-13-45T99:99"}, 400),
        ({"q": "when did the person fall\x00", "camera": "lobby\x00"}, 400),
        ({"q": "fall", "since": "2026-01-02", "until": "2026-01-01"}, 400),
    ],
)
def test_hostile_parameters_get_a_4xx_with_a_message(api: str, params: dict, status: int) -> None:
    response = httpx.get(f"{api}/query", params=params, timeout=30)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"} and response.json()["error"]


def test_a_bug_is_a_500_without_detail_and_its_traceback_is_logged(recorded, caplog) -> None:
    from fastapi.testclient import TestClient

    from streamer.api.app import create_app
    from streamer.config import load_config
    from streamer.query.service import QueryService

    service = QueryService(load_config(recorded.config))

    def broken(*_args):
        raise RuntimeError("the index moved under us")

    service.ask = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="streamer.api"):
        client = TestClient(create_app(service), base_url="http://127.0.0.1")  # a Host of this service
        response = client.get("/query", params={"q": "when did the person fall"})
    assert response.status_code == 500 and response.json() == {"error": "internal error; it is in the service's log"}
    (logged,) = [r for r in caplog.records if r.getMessage() == "request failed"]
    assert logged.exc_info is not None and "the index moved under us" in str(logged.exc_info[1])


def test_streamer_serve_refuses_an_open_address_unless_told(recorded) -> None:
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamer",
            "serve",
            "--config",
            str(recorded.config),
            "--api-host",
            "0.0.0.0",
            "--api-port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "not a loopback address" in refused.stderr and "api.auth: none" in refused.stderr


def test_every_answer_matches_the_published_schema(api: str) -> None:
    import jsonschema

    schema = json.loads(
        subprocess.run(
            [sys.executable, "-m", "streamer", "query", "schema"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    )
    for question in (
        "when did the person fall",
        "was anyone in the loading zone",
        "what happened",
        "a purple elephant",
    ):
        doc = httpx.get(f"{api}/query", params={"q": question}, timeout=60).json()
        jsonschema.validate(doc, schema)
