"""Users of the API and the alert feed (issue 17's security and feed parts), on a real `streamer serve` over real
recordings and a real Redis: once a user exists every request needs a session or an API token; sessions are
HttpOnly SameSite cookies whose POSTs need their CSRF token; wrong passwords are rate limited; a viewer limited to
one camera gets 403 for another camera's answers, clips, snapshots and feed; an open address needs
`api.auth: users` (with a user) or `none`. The feed is server-sent events from the Redis stream: an alert
arrives within a moment of its XADD, filtered, and a reconnect resumes after the last id it saw."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import yaml

from streamer.auth.passwords import hash_password, verify_password
from streamer.auth.ratelimit import LoginLimiter
from testkit.alerts import alert
from testkit.api import Served, wait_for_api
from testkit.redis_server import RedisServer
from testkit.rtsp import free_port

STREAMER = [sys.executable, "-m", "streamer"]
ADMIN_PASSWORD = "correct horse battery"
VIEWER_PASSWORD = "lobby only please"


def _users(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*STREAMER, "users", *args, "-c", str(config)], input=stdin, capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def site(recorded, tmp_path_factory, redis_server: RedisServer) -> Path:
    """A copy of the recordings with their own users (the shared fixture stays open for the other API tests)."""
    folder = tmp_path_factory.mktemp("site")
    shutil.copytree(recorded.storage, folder / "data")
    (folder / "data" / "query").exists() and shutil.rmtree(folder / "data" / "query")
    tree = yaml.safe_load(recorded.config.read_text())
    tree["storage_dir"] = str(folder / "data")
    tree["redis"] = {"url": redis_server.url}
    config = folder / "site.yaml"
    config.write_text(yaml.safe_dump(tree))
    assert _users(config, "add", "ann", "--role", "admin", "--password-stdin", stdin=ADMIN_PASSWORD).returncode == 0
    added = _users(config, "add", "vic", "--camera", "lobby", "--password-stdin", stdin=VIEWER_PASSWORD)
    assert added.returncode == 0 and "viewer 'vic' (lobby)" in added.stdout, added.stderr
    return config


@pytest.fixture(scope="module")
def api(site: Path) -> Iterator[str]:
    with Served(site) as served:
        yield served.base
    assert ADMIN_PASSWORD not in served.log and VIEWER_PASSWORD not in served.log  # never logged


def _login(api: str, name: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=api, timeout=60)
    response = client.post("/login", json={"name": name, "password": password})
    assert response.status_code == 200, response.text
    client.headers["x-csrf-token"] = response.json()["csrf"]
    return client


def test_passwords_are_scrypt_hashes_and_the_limiter_counts_per_key() -> None:
    stored = hash_password("a long password")
    assert stored.startswith("scrypt$131072$8$1$") and "a long password" not in stored  # OWASP's N=2^17
    assert verify_password("a long password", stored) and not verify_password("a long passworD", stored)
    limiter = LoginLimiter(max_failures=2, window_s=10)
    limiter.failed(("user:x",), now=0)
    assert limiter.retry_after(("user:x",), now=1) == 0
    limiter.failed(("user:x",), now=1)
    assert limiter.retry_after(("user:x", "address:y"), now=2) == pytest.approx(8)
    assert limiter.retry_after(("user:x",), now=10.5) == 0  # the first failure left the window


def test_every_endpoint_needs_a_login_once_a_user_exists(api: str) -> None:
    for path in ("/query?q=when+did+the+person+fall", "/clips/0123456789abcdef", "/snapshots/0123456789abcdef", "/me"):
        response = httpx.get(f"{api}{path}", timeout=30)
        assert response.status_code == 401 and "log in first" in response.json()["error"], path
    assert httpx.get(f"{api}/health").json() == {"status": "ok"}  # no camera names for strangers


def test_a_session_cookie_is_httponly_strict_and_its_posts_need_the_csrf_token(api: str) -> None:
    response = httpx.post(f"{api}/login", json={"name": "ann", "password": ADMIN_PASSWORD}, timeout=60)
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie  # plain HTTP here
    client = httpx.Client(base_url=api, timeout=60, cookies=response.cookies)
    assert client.get("/me").json()["name"] == "ann"
    assert client.get("/query", params={"q": "when did the person fall"}).status_code == 200
    refused = client.post("/logout")  # no CSRF token: a page on another site could have sent it
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]
    wrong = client.post("/logout", headers={"x-csrf-token": "guessed"})
    assert wrong.status_code == 403
    assert client.post("/logout", headers={"x-csrf-token": response.json()["csrf"]}).status_code == 200
    assert client.get("/me").status_code == 401  # the session is gone on the server, not only in the browser


def test_a_viewer_sees_only_their_cameras(api: str, site: Path) -> None:
    admin = httpx.Client(base_url=api, timeout=60, headers={"authorization": f"Bearer {_token(site, 'ann')}"})
    everything = admin.get("/query", params={"q": "what happened"}).json()
    other = next(hit for hit in everything["hits"] if hit["camera"] != "lobby")
    viewer = httpx.Client(base_url=api, timeout=60, headers={"authorization": f"Bearer {_token(site, 'vic')}"})
    assert viewer.get("/me").json()["cameras"] == ["lobby"]
    own = viewer.get("/query", params={"q": "what happened"}).json()
    assert own["hits"] and {hit["camera"] for hit in own["hits"]} == {"lobby"}
    assert viewer.get("/query", params={"q": "what happened", "camera": other["camera"]}).status_code == 403
    for kind in ("clips", "snapshots"):
        assert viewer.get(f"/{kind}/{other['id']}").status_code == 403
        assert admin.get(f"/{kind}/{other['id']}").status_code == 200
    lobby_hit = own["hits"][0]
    assert viewer.get(f"/clips/{lobby_hit['id']}").status_code == 200
    assert httpx.get(f"{api}/me", headers={"authorization": "Bearer stk_not-a-token"}).status_code == 401


def test_metrics_are_for_admins_and_programs_with_an_admins_token(api: str, site: Path) -> None:
    assert httpx.get(f"{api}/metrics", timeout=30).status_code == 401
    viewer = {"authorization": f"Bearer {_token(site, 'vic')}"}
    assert httpx.get(f"{api}/metrics", headers=viewer, timeout=30).status_code == 403  # every camera's figures
    scraped = httpx.get(f"{api}/metrics", headers={"authorization": f"Bearer {_token(site, 'ann')}"}, timeout=30)
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    assert "streamer_storage_used_bytes" in scraped.text and "streamer_storage_free_bytes" in scraped.text


def _token(config: Path, name: str) -> str:
    made = _users(config, "token", name)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def test_an_open_address_needs_users_or_none_said(site: Path, recorded, tmp_path: Path) -> None:
    args = ["--api-host", "0.0.0.0", "--api-port", str(free_port())]
    refused = subprocess.run(
        [*STREAMER, "serve", "-c", str(recorded.config), *args, "--api-auth", "users"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "no user is defined" in refused.stderr  # the shared fixture has no users
    process = subprocess.Popen(
        [*STREAMER, "serve", "-c", str(site), *args, "--api-auth", "users"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_api(f"http://127.0.0.1:{args[3]}", process)
        assert httpx.get(f"http://127.0.0.1:{args[3]}/me").status_code == 401
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(15)


class Feed:
    """GET /alerts/stream read on a thread: each SSE event with the time it arrived."""

    def __init__(self, url: str, headers: dict[str, str]):
        self.events: list[tuple[float, str, dict]] = []
        self.comments = 0
        self._client = httpx.Client(timeout=httpx.Timeout(30, read=60))
        self._opened = self._client.stream("GET", url, headers=headers)  # kept: collecting it would close the stream
        self._response = self._opened.__enter__()
        assert self._response.status_code == 200, self._response.read()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        event_id, data = None, None
        try:
            for line in self._response.iter_lines():
                if line.startswith(":"):
                    self.comments += 1
                elif line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                elif line == "" and data is not None:
                    self.events.append((time.monotonic(), event_id, data))
                    event_id, data = None, None
        except (httpx.HTTPError, httpx.StreamClosed):
            pass  # closed by the test

    def wait(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.events) >= count, (
            f"{len(self.events)} of {count} events: {self.events}; {self.comments} comments"
        )

    def close(self) -> None:
        self._client.close()


def _alert(n: int, camera: str, type_: str = "fall", risk: str | None = None) -> str:
    """A message as the service publishes it; `n` rides in its track id."""
    return alert(f"{camera}-{n:016x}", camera=camera, kind=type_, risk_level=risk, track_id=n).to_json()


def test_the_alert_feed_is_live_filtered_and_resumable(api: str, site: Path, redis_server: RedisServer) -> None:
    client = redis_server.client()
    client.xadd("streamer:alerts", {"data": _alert(0, "lobby")})  # before the feed: not sent without from_start
    viewer = {"authorization": f"Bearer {_token(site, 'vic')}"}
    feed = Feed(f"{api}/alerts/stream", viewer)
    time.sleep(0.5)
    sent = {}
    for n, camera in enumerate(["lobby", "plaza", "lobby", "yard-cam", "lobby"], start=1):
        if n == 4:  # anyone who can XADD can write anything: what is not an alert reaches no browser
            client.xadd("streamer:alerts", {"data": json.dumps({"camera": "lobby", "track_id": 99})})
        entry = client.xadd("streamer:alerts", {"data": _alert(n, camera)}).decode()
        sent[entry] = time.monotonic()
        time.sleep(0.05)
    feed.wait(3)
    time.sleep(0.5)
    assert [data["track_id"] for _, _, data in feed.events] == [1, 3, 5]  # only the viewer's camera, in order
    latencies = [arrived - sent[entry] for arrived, entry, _ in feed.events]
    assert max(latencies) < 2.0, latencies  # within 2 s of the XADD, no reload, no polling of the index
    last_seen = feed.events[1][1]
    feed.close()

    resumed = Feed(f"{api}/alerts/stream", {**viewer, "last-event-id": last_seen})
    resumed.wait(1)
    assert [data["track_id"] for _, _, data in resumed.events] == [5]  # the browser's reconnect carries on after it
    resumed.close()

    admin = {"authorization": f"Bearer {_token(site, 'ann')}"}
    filtered = Feed(f"{api}/alerts/stream?from_start=true&type=count&min_risk=high", admin)
    client.xadd("streamer:alerts", {"data": _alert(6, "plaza", "count", "medium")})
    client.xadd("streamer:alerts", {"data": _alert(7, "plaza", "count", "critical")})
    filtered.wait(1)
    time.sleep(0.3)
    assert [data["track_id"] for _, _, data in filtered.events] == [7]
    filtered.close()
    assert httpx.get(f"{api}/alerts/stream?camera=plaza", headers=viewer, timeout=10).status_code == 403
    assert httpx.get(f"{api}/alerts/stream?camera=nowhere", headers=admin, timeout=10).status_code == 400


def test_events_lists_each_events_latest_state_for_the_users_cameras(api: str, site: Path) -> None:
    admin = httpx.get(f"{api}/events", headers={"authorization": f"Bearer {_token(site, 'ann')}"}, timeout=30).json()
    viewer = httpx.get(f"{api}/events", headers={"authorization": f"Bearer {_token(site, 'vic')}"}, timeout=30).json()
    cameras = {event["camera"] for event in admin["events"]}
    assert len(cameras) >= 2 and {event["camera"] for event in viewer["events"]} == {"lobby"}
    starts = [event["start_ts"] for event in admin["events"]]
    assert starts == sorted(starts, reverse=True) and len({e["event_id"] for e in admin["events"]}) == len(starts)
    falls = httpx.get(
        f"{api}/events", params={"type": "fall"}, timeout=30, headers={"authorization": f"Bearer {_token(site, 'ann')}"}
    ).json()["events"]
    assert falls and {event["type"] for event in falls} == {"fall"}


def test_a_review_is_stored_published_and_carried_by_the_events_later_messages(
    api: str, site: Path, redis_server: RedisServer
) -> None:
    from streamer.alerts.direct import AlertWriter
    from streamer.alerts.payload import AlertPayload
    from streamer.config.redis import RedisConfig
    from streamer.index import db, store

    viewer = _login(api, "vic", VIEWER_PASSWORD)
    lobby = viewer.get("/events").json()["events"][0]
    plaza = next(
        e for e in _login(api, "ann", ADMIN_PASSWORD).get("/events").json()["events"] if e["camera"] != "lobby"
    )
    no_csrf = httpx.post(
        f"{api}/events/{lobby['event_id']}/review", json={"verdict": "false_alarm"}, cookies=viewer.cookies, timeout=30
    )
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.json()["error"]
    assert viewer.post(f"/events/{plaza['event_id']}/review", json={"verdict": "true_alarm"}).status_code == 403
    assert viewer.post(f"/events/{lobby['event_id']}/review", json={"verdict": "maybe"}).status_code == 422
    done = viewer.post(f"/events/{lobby['event_id']}/review", json={"verdict": "false_alarm", "note": "a shadow"})
    assert done.status_code == 200 and done.json()["published"] is True, done.text

    client = redis_server.client()
    published = [json.loads(fields[b"data"]) for _, fields in client.xrange("streamer:alerts")]
    update = [a for a in published if a.get("event_id") == lobby["event_id"]][-1]
    assert update["state"] == "update" and update["review"]["verdict"] == "false_alarm"
    assert update["review"]["reviewer"] == "vic" and update["review"]["note"] == "a shadow"
    assert update["start_ts"] == lobby["start_ts"] and update["schema_version"] == 1
    AlertPayload.model_validate(update)  # the published contract, with its new optional field

    end_ts = lobby["end_ts"] or lobby["start_ts"] + 1
    # a camera message written after the review, without it: the delivery script adds the event's review
    fixed = AlertPayload.model_validate(
        {**{k: v for k, v in lobby.items() if k != "review"}, "state": "end", "end_ts": end_ts, "end_iso": _iso(end_ts)}
    )
    AlertWriter(client, RedisConfig(url=redis_server.url)).publish("camera-after-review", fixed, owner="camera")
    last = json.loads(client.xrevrange("streamer:alerts", count=1)[0][1][b"data"])
    assert last["state"] == "end" and last["review"]["verdict"] == "false_alarm"

    detail = viewer.get(f"/events/{lobby['event_id']}").json()
    assert detail["event"]["review"]["verdict"] == "false_alarm"
    assert [r["reviewer"] for r in detail["reviews"]] == ["vic"] and detail["history"][-1]["review"]
    conn = db.connect(Path(yaml.safe_load(site.read_text())["storage_dir"]), readonly=True)
    (row,) = store.reviews_of(conn, lobby["event_id"])
    conn.close()
    assert row.reviewer == "vic" and row.verdict == "false_alarm" and abs(row.reviewed_ts - time.time()) < 60


def test_reviewed_events_export_as_a_fine_tuning_set(api: str, site: Path, tmp_path: Path) -> None:
    """After the review test: the viewer's false alarm, plus a true alarm given here, become two conversations whose
    answers the VLM stage's own parser reads back as the reviewed verdicts, on frames with their real times."""
    from streamer.vlm.answer import parse_answer

    admin = _login(api, "ann", ADMIN_PASSWORD)
    confirmed = next(e for e in admin.get("/events").json()["events"] if e["camera"] != "lobby")
    assert (
        admin.post(
            f"/events/{confirmed['event_id']}/review", json={"verdict": "true_alarm", "note": "it happened"}
        ).status_code
        == 200
    )
    done = subprocess.run(
        [*STREAMER, "dataset", "export", "-c", str(site), "-o", str(tmp_path / "set")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and "2 reviewed event(s)" in done.stdout, done.stdout + done.stderr
    lines = [json.loads(line) for line in (tmp_path / "set" / "train.jsonl").read_text().splitlines()]
    by_id = {line["id"]: line for line in lines}
    assert len(by_id) == 2 and confirmed["event_id"] in by_id
    for line in lines:
        system, user, assistant = line["messages"]
        assert (
            system["role"] == "system"
            and user["content"].startswith("<video>")
            and line["clip_start_iso"] in user["content"]
        )
        frames, times = line["videos"][0], line["frame_times_s"]
        assert len(frames) == len(times) >= 4 and all(
            (tmp_path / "set" / frame).stat().st_size > 1000 for frame in frames
        )
        steps = [b - a for a, b in zip(times, times[1:])]
        assert all(abs(step - 1 / line["fps"]) < 0.15 for step in steps), steps  # real times, on the VLM's grid
        answer = parse_answer(assistant["content"], times[-1] + 1 / line["fps"], 0.5)
        assert answer.verdict == ("confirmed" if line["review"]["verdict"] == "true_alarm" else "rejected")
    event = by_id[confirmed["event_id"]]
    answer = json.loads(event["messages"][2]["content"])
    clip_start = datetime.fromisoformat(event["clip_start_iso"]).timestamp()
    assert abs(clip_start + answer["events"][0]["start_time"] - confirmed["start_ts"]) < 0.1
    assert answer["events"][0]["description"] == "it happened"
    # `streamer vlm finetune` reads the export back: one clip of each verdict, too few to hold one of each out
    from streamer.vlm.finetune.export import ExportError, read_export, split

    clips = read_export(tmp_path / "set")
    assert sorted(clip.verdict for clip in clips) == ["confirmed", "rejected"]
    assert all(
        clip.prompt.startswith("The clip starts at ") and "The detector flagged a " in clip.prompt for clip in clips
    )
    with pytest.raises(ExportError, match="at least 2 of each verdict"):
        split(clips, 0.25, 0)


def _iso(ts: float) -> str:
    from streamer.core.timefmt import iso_time

    return iso_time(ts)


def test_an_events_clip_seeks_and_its_files_keep_to_the_users_cameras(api: str, site: Path) -> None:
    admin = _login(api, "ann", ADMIN_PASSWORD)
    with_clip = [e for e in admin.get("/events").json()["events"] if e.get("clip")]
    lobby = next(e for e in with_clip if e["camera"] == "lobby")
    other = next(e for e in with_clip if e["camera"] != "lobby")
    viewer = _login(api, "vic", VIEWER_PASSWORD)
    part = viewer.get(f"/events/{lobby['event_id']}/clip", headers={"range": "bytes=100-199"})
    assert (
        part.status_code == 206
        and len(part.content) == 100
        and part.headers["content-range"].startswith("bytes 100-199/")
    )
    assert viewer.get(f"/events/{lobby['event_id']}/snapshot").headers["content-type"] == "image/jpeg"
    for kind in ("clip", "snapshot", ""):
        assert viewer.get(f"/events/{other['event_id']}/{kind}".rstrip("/")).status_code == 403
    assert viewer.get("/events/lobby-0000000000000000").status_code == 404
    assert viewer.get("/events/..%2F..%2Fetc%2Fpasswd/clip").status_code in (404, 422)


def test_the_timeline_marks_each_event_at_its_true_time_and_plays_the_recording_from_any_time(
    api: str, site: Path, recorded
) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import av

    viewer = {"authorization": f"Bearer {_token(site, 'vic')}"}
    fall = next(truth for truth in recorded.truths if truth.camera == "lobby" and truth.type == "fall")
    day = (
        datetime.fromtimestamp(fall.start_ts, ZoneInfo(yaml.safe_load(site.read_text())["timezone"])).date().isoformat()
    )
    line = httpx.get(f"{api}/cameras/lobby/timeline", params={"day": day}, headers=viewer, timeout=30).json()
    assert line["from_ts"] <= fall.start_ts < line["to_ts"]
    (marked,) = [event for event in line["events"] if event["type"] == "fall"]
    assert abs(marked["start_ts"] - fall.start_ts) < 1.0  # at its true time, within a second
    assert any(span["start_ts"] <= fall.start_ts <= span["end_ts"] for span in line["segments"])
    played = httpx.get(
        f"{api}/cameras/lobby/recording.mp4", params={"at": fall.start_ts - 1, "seconds": 4}, headers=viewer, timeout=60
    )
    assert played.status_code == 200 and played.headers["accept-ranges"] == "bytes"
    clip = Path(yaml.safe_load(site.read_text())["storage_dir"]) / "played.mp4"
    clip.write_bytes(played.content)
    with av.open(str(clip)) as container:
        frames = [frame.time for frame in container.decode(video=0)]
    assert frames and 3.0 <= frames[-1] - frames[0] + 0.2 <= 5.5
    assert httpx.get(f"{api}/cameras/plaza/timeline", headers=viewer, timeout=30).status_code == 403
    assert (
        httpx.get(f"{api}/cameras/lobby/timeline", params={"day": "2026-02-30"}, headers=viewer, timeout=30).status_code
        == 400
    )
    nothing = httpx.get(
        f"{api}/cameras/lobby/recording.mp4", params={"at": 1_000_000, "seconds": 4}, headers=viewer, timeout=30
    )
    assert nothing.status_code == 404 and "recording" in nothing.json()["error"]


def test_wrong_passwords_are_rate_limited(api: str) -> None:
    """Last in the module: it locks out 127.0.0.1, from where every other test logs in."""
    codes = [
        httpx.post(f"{api}/login", json={"name": "ann", "password": f"wrong {n}"}, timeout=60).status_code
        for n in range(6)
    ]
    assert codes == [401] * 5 + [429]
    limited = httpx.post(f"{api}/login", json={"name": "ann", "password": ADMIN_PASSWORD}, timeout=60)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0  # even the right one, for now
