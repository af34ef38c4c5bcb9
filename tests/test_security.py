"""The API and console hardened (issue 23), each finding probed the way an attacker would, on a real `streamer serve`
over real recordings with a real Redis: a page that rebinds its name to 127.0.0.1 reads nothing, in open mode or
with users; the first user closes a server started open; a 1 GB body is refused unread; a login sends the browser
only to this site; no camera secret or other camera's name reaches a viewer; playback cuts are a bounded cache;
forty parallel guesses are five checks; strangers cannot lock a user out of their own browser; the pages carry
their security headers; the compose file needs no open API; Ctrl-C stops a server that inherited it ignored."""

from __future__ import annotations

import functools
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest
import yaml

from testkit.api import Served
from testkit.redis_server import RedisServer
from testkit.sites import STREAMER, add_user, site_copy, users
from testkit.sites import token as new_token
from testkit.streams import RawStream

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "a long enough password"
SECRET_URL = "rtsp://admin:p@ss@10.0.0.9:554/live?token=t0ps3cret&channel=1"
OTHER_NAMES = ("plaza", "yard-cam", "door")


@functools.cache
def token(config: Path, name: str) -> str:
    """One API token per user for the module's requests."""
    return new_token(config, name)


@pytest.fixture(scope="module")
def open_site(recorded, tmp_path_factory, redis_server: RedisServer) -> Path:
    return site_copy(recorded, tmp_path_factory.mktemp("open"), redis_server.url)


@pytest.fixture(scope="module")
def site(recorded, tmp_path_factory, redis_server: RedisServer) -> Path:
    """Users ann (admin) and vic (viewer of lobby); a disabled camera whose URL holds secrets; small cut cache."""
    tree = yaml.safe_load(recorded.config.read_text())
    cameras = {**tree["cameras"], "door": {"url": SECRET_URL, "enabled": False}}
    config = site_copy(
        recorded,
        tmp_path_factory.mktemp("site"),
        redis_server.url,
        cameras=cameras,
        api={"allowed_hosts": ["cams.example.com", "*.example.org"]},
        storage={"cuts_max_size": "400KB"},
    )
    add_user(config, "ann", PASSWORD, "--role", "admin")
    add_user(config, "vic", PASSWORD, "--camera", "lobby")
    return config


@pytest.fixture(scope="module")
def api(site: Path) -> Iterator[Served]:
    with Served(site) as served:
        yield served


def _hostile_requests(base: str) -> list[tuple[str, str]]:
    return [
        ("GET", "/events"),
        ("GET", "/cameras"),
        ("GET", "/cameras/lobby/live.jpg"),
        ("GET", "/query?q=fall"),
        ("GET", "/cameras/lobby/timeline"),
        ("GET", "/alerts/stream"),
        ("GET", "/"),
        ("GET", "/me"),
        ("POST", "/events/lobby-0123456789abcdef/review"),
    ]


def test_in_open_mode_a_page_that_rebinds_its_name_to_this_machine_reads_nothing(open_site: Path) -> None:
    with Served(open_site) as served:
        for method, path in _hostile_requests(served.base):
            answer = httpx.request(
                method,
                served.base + path,
                headers={"host": f"attacker.example:{served.port}"},
                json={"verdict": "false_alarm"} if method == "POST" else None,
                timeout=30,
            )
            assert answer.status_code == 421 and "api.allowed_hosts" in answer.json()["error"], (path, answer.text)
        for host in (f"localhost:{served.port}", f"127.0.0.1:{served.port}", "LOCALHOST", "console.localhost"):
            assert httpx.get(served.base + "/events", headers={"host": host}, timeout=30).status_code == 200, host
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:  # HTTP/1.0, no Host at all
            sock.sendall(b"GET /events HTTP/1.0\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.1 400")


def test_the_first_user_added_closes_a_server_started_open(open_site: Path) -> None:
    with Served(open_site) as served:
        assert httpx.get(f"{served.base}/events", timeout=30).status_code == 200  # open: no user yet
        feed = RawStream(f"{served.base}/alerts/stream")
        add_user(open_site, "first", PASSWORD, "--role", "admin")
        assert httpx.get(f"{served.base}/events", timeout=30).status_code == 401  # the very next request
        assert feed.status == 200 and feed.ended.wait(6), "a feed opened without a login outlived the first user"
        assert httpx.get(f"{served.base}/health", timeout=30).json() == {"status": "ok"}
        assert users(open_site, "remove", "first").returncode == 0
        assert httpx.get(f"{served.base}/events", timeout=30).status_code == 200  # no user left: open again


def test_a_host_that_is_not_this_service_is_refused_with_a_login_too(api: Served, site: Path) -> None:
    admin = {"authorization": f"Bearer {token(site, 'ann')}"}
    refused = httpx.get(f"{api.base}/events", headers={**admin, "host": "rebound.attacker.example"}, timeout=30)
    assert refused.status_code == 421
    for host in ("cams.example.com", "CAMS.example.com.", "console.example.org", "a.b.example.org", "[::1]:8765"):
        assert httpx.get(f"{api.base}/events", headers={**admin, "host": host}, timeout=30).status_code == 200, host
    # an IP address other than the bound one (127.0.0.1) is no address of this service either
    for host in ("example.org", "cams.example.com.attacker.example", "evil-example.org", "10.1.2.3", ""):
        assert httpx.get(f"{api.base}/events", headers={**admin, "host": host}, timeout=30).status_code == 421, host


def test_pages_and_answers_carry_the_security_headers(api: Served, site: Path) -> None:
    page = httpx.get(f"{api.base}/login", timeout=30)
    policy = page.headers["content-security-policy"]
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in page.text and "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert nonce not in httpx.get(f"{api.base}/login", timeout=30).headers["content-security-policy"]  # one per answer
    answer = httpx.get(f"{api.base}/events", headers={"authorization": f"Bearer {token(site, 'vic')}"}, timeout=30)
    for response in (page, answer):
        assert response.headers["x-frame-options"] == "DENY" and response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin" and response.headers["cache-control"] == "no-store"
        assert "server" not in response.headers and "strict-transport-security" not in response.headers  # plain HTTP
    assert httpx.get(f"{api.base}/openapi.json", timeout=30).status_code == 401  # the API's map is for users


def _rss(served: Served) -> int:
    return psutil.Process(served.process.pid).memory_info().rss


def _post_huge(port: int, path: str, size: int) -> tuple[bytes, int]:
    """POST a `size`-byte body: the headers, then the answer read before any body byte is sent, then as much of the
    body as the server takes. Returns the answer and how many body bytes it took."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {size}\r\n\r\n".encode()
        )
        answer = sock.recv(4096)
        block, sent = b" " * (1 << 20), 0
        try:
            while sent < size:
                sock.sendall(block)
                sent += len(block)
        except OSError:  # the server closed the connection: the rest is never read
            pass
    return answer, sent


def test_a_huge_body_is_refused_unread_and_memory_stays_flat(api: Served) -> None:
    before = _rss(api)
    answer, taken = _post_huge(api.port, "/login", 1 << 30)  # a 1 GB login, before any login
    assert answer.startswith(b"HTTP/1.1 413") and b"Connection: close" in answer.replace(b"connection", b"Connection")
    assert taken < 64 << 20, taken  # the socket closed: at most the kernel's buffers took part of the gigabyte
    with socket.create_connection(("127.0.0.1", api.port), timeout=10) as sock:  # chunked: no length to refuse by
        sock.sendall(
            f"POST /login HTTP/1.1\r\nHost: 127.0.0.1:{api.port}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        )
        for _ in range(3):
            sock.sendall(b"8000\r\n" + b" " * 0x8000 + b"\r\n")  # 96 KB, past the 64 KB limit
        assert sock.recv(4096).startswith(b"HTTP/1.1 413")
    assert _rss(api) - before < 30 << 20, (before, _rss(api))
    small = httpx.post(f"{api.base}/login", json={"name": "ann", "password": "x" * 60_000}, timeout=60)
    assert small.status_code == 422  # under the limit: read and judged (a password is at most 1024 characters)


@pytest.mark.parametrize(
    "target",
    [
        "/\\evil.example",
        "//evil.example/x",
        "https://evil.example",
        "/\\/evil.example",
        "/\r\nSet-Cookie:x",
        "javascript:alert(1)",
        "/\t/evil.example",
    ],
)
def test_login_sends_the_browser_only_to_this_site(api: Served, target: str) -> None:
    page = httpx.get(f"{api.base}/login", params={"next": target}, timeout=30).text
    assert 'location.href = "/";' in page, target
    kept = httpx.get(f"{api.base}/login", params={"next": "/camera/lobby?day=2026-12-01"}, timeout=30).text
    assert 'location.href = "/camera/lobby?day=2026-12-01";' in kept
    bounced = httpx.get(f"{api.base}/alerts", params={"x": "1"}, timeout=30)  # a page without a login: quoted path
    assert bounced.status_code == 303 and bounced.headers["location"] == "/login?next=/alerts"


def test_camera_secrets_never_reach_viewers(api: Served, site: Path) -> None:
    admin = httpx.get(f"{api.base}/cameras", headers={"authorization": f"Bearer {token(site, 'ann')}"}, timeout=30)
    door = next(camera for camera in admin.json()["cameras"] if camera["name"] == "door")
    assert door["url"] == "rtsp://admin:***@10.0.0.9:554/live?token=***&channel=1"
    assert "ss@" not in admin.text and "t0ps3cret" not in admin.text
    viewer = httpx.get(f"{api.base}/cameras", headers={"authorization": f"Bearer {token(site, 'vic')}"}, timeout=30)
    assert [(camera["name"], camera["url"]) for camera in viewer.json()["cameras"]] == [("lobby", None)]


def test_a_limited_viewer_is_told_no_other_cameras_name(api: Served, site: Path) -> None:
    viewer = httpx.Client(base_url=api.base, timeout=30, headers={"authorization": f"Bearer {token(site, 'vic')}"})
    for path in (
        "/alerts/stream?camera=nowhere",
        "/events?camera=nowhere",
        "/query?q=fall&camera=nowhere",
        "/cameras/nowhere/timeline",
        "/cameras/nowhere/live.jpg",
        "/events?camera=plaza",
    ):
        answer = viewer.get(path)
        assert answer.status_code == 403, (path, answer.text)
        assert not any(name in answer.text for name in OTHER_NAMES if name not in path), (path, answer.text)
    admin = httpx.get(f"{api.base}/events?camera=nowhere", headers={"authorization": f"Bearer {token(site, 'ann')}"})
    assert admin.status_code == 400 and "plaza" in admin.json()["error"]  # an admin may know every name


def test_playback_cuts_are_shared_bounded_counted_and_go_with_their_footage(
    api: Served, site: Path, recorded, tmp_path: Path
) -> None:
    from streamer.config import load_config
    from streamer.record.cuts import CutCache
    from streamer.record.retention import Retention

    viewer = httpx.Client(base_url=api.base, timeout=60, headers={"authorization": f"Bearer {token(site, 'vic')}"})
    storage = Path(yaml.safe_load(site.read_text())["storage_dir"])
    fall = next(truth for truth in recorded.truths if truth.camera == "lobby" and truth.type == "fall")
    second = float(int(fall.start_ts))
    first = viewer.get("/cameras/lobby/recording.mp4", params={"at": second + 0.2, "seconds": 3.4})
    again = viewer.get("/cameras/lobby/recording.mp4", params={"at": second + 0.7, "seconds": 3.9})
    assert first.status_code == again.status_code == 200 and first.content == again.content
    assert float(first.headers["x-clip-start"]) == second
    assert len(list((storage / "query" / "recordings").iterdir())) == 1  # one cut for the same whole second
    for seconds in range(2, 11):  # nine more distinct cuts: more than the 400 KB cache holds
        cut = viewer.get("/cameras/lobby/recording.mp4", params={"at": second - 2, "seconds": seconds})
        assert cut.status_code == 200
    time.sleep(2.5)  # the cuts just served are past the moment their answers opened them
    assert viewer.get("/cameras/lobby/recording.mp4", params={"at": second - 2, "seconds": 11}).status_code == 200
    cached = sum(path.stat().st_size for path in (storage / "query" / "recordings").iterdir())
    assert cached <= 400_000, cached
    status = httpx.get(f"{api.base}/system/status", headers={"authorization": f"Bearer {token(site, 'ann')}"}).json()
    assert status["storage"]["cuts_bytes"] == cached and status["storage"]["used_bytes"] > cached
    # retention on a copy: when the segments go, the cuts of their footage go with them
    copy = tmp_path / "data"
    import shutil

    shutil.copytree(storage, copy)
    loaded = load_config(site)
    cameras = {name: camera.record for name, camera in loaded.cameras.items()}
    Retention(copy, cameras, None, CutCache(copy, 10 << 20, 3600)).run_once(now=time.time() + 400 * 86400)
    assert not list((copy / "query" / "recordings").iterdir())


@pytest.fixture
def limits_api(site: Path) -> Iterator[Served]:
    """A server of its own: the login limit's counts are each server's."""
    with Served(site) as served:
        yield served


def test_forty_parallel_guesses_are_five_password_checks(limits_api: Served) -> None:
    def guess(n: int) -> int:
        answer = httpx.post(f"{limits_api.base}/login", json={"name": "vic", "password": f"guess {n}"}, timeout=120)
        return answer.status_code

    with ThreadPoolExecutor(40) as pool:
        codes = list(pool.map(guess, range(40)))
    assert sorted(codes) == [401] * 5 + [429] * 35, codes


def test_x_forwarded_for_from_no_trusted_proxy_is_ignored(limits_api: Served) -> None:
    codes = [
        httpx.post(
            f"{limits_api.base}/login",
            json={"name": f"nobody{n}", "password": "wrong one"},
            timeout=60,
            headers={"x-forwarded-for": f"203.0.113.{n}"},
        ).status_code
        for n in range(6)
    ]
    assert codes == [401] * 5 + [429]  # six names, six claimed addresses: one real address, limited


def test_strangers_cannot_lock_a_user_out_of_their_own_browser(limits_api: Served) -> None:
    browser = httpx.Client(base_url=limits_api.base, timeout=60)
    assert browser.post("/login", json={"name": "ann", "password": PASSWORD}).status_code == 200  # the device cookie
    stranger = [
        httpx.post(f"{limits_api.base}/login", json={"name": "ann", "password": f"guess {n}"}, timeout=60).status_code
        for n in range(6)
    ]
    assert stranger == [401] * 5 + [429]
    assert browser.post("/login", json={"name": "ann", "password": PASSWORD}).status_code == 200  # not locked out
    wrong = [browser.post("/login", json={"name": "ann", "password": f"typo {n}"}).status_code for n in range(6)]
    assert wrong == [401] * 5 + [429]  # the browser's own wrong passwords are still limited


def test_the_session_cookie_is_secure_behind_https(open_site: Path, tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from streamer.api.app import create_app
    from streamer.config import load_config
    from streamer.config.query import ApiConfig
    from streamer.query.service import QueryService

    loaded = load_config(open_site)
    add_user(open_site, "tls", PASSWORD, "--role", "admin")
    try:
        app = create_app(QueryService(loaded), ApiConfig(behind_https=True))
        with TestClient(app, base_url="http://127.0.0.1") as client:
            answer = client.post("/login", json={"name": "tls", "password": PASSWORD})
            assert answer.status_code == 200
            assert all("secure" in cookie.lower() for cookie in answer.headers.get_list("set-cookie"))
            assert answer.headers["strict-transport-security"].startswith("max-age=")
    finally:
        users(open_site, "remove", "tls")


def test_compose_needs_no_open_api_gives_redis_a_password_and_runs_nothing_as_root() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    for name, service in services.items():
        environment = service.get("environment") or {}
        assert environment.get("STREAMER_API_AUTH") != "none", name
        if "STREAMER_REDIS_URL" in environment:
            assert environment["STREAMER_REDIS_URL"].startswith("redis://:${REDIS_PASSWORD"), name
    assert "--requirepass" in services["redis"]["command"] and services["redis"]["user"] == "redis"
    assert services["streamer"]["environment"]["STREAMER_API_AUTH"] == "users"
    dockerfile = (REPO / "Dockerfile").read_text().splitlines()
    assert [line for line in dockerfile if line.startswith("USER ")][-1] == "USER streamer"


@pytest.mark.parametrize("command", ["serve", "tail"])
def test_ctrl_c_stops_a_command_started_with_sigint_ignored(command: str, open_site: Path, redis_server) -> None:
    """As a script's background job starts it: SIGINT arrives ignored, and the command installs its own handler."""
    args = (
        ["serve", "-c", str(open_site), "--api-port", "0"]
        if command == "serve"
        else ["alerts", "tail", "--redis-url", redis_server.url]
    )
    process = subprocess.Popen(
        [*STREAMER, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        if command == "serve":
            deadline = time.monotonic() + 60
            while process.poll() is None and time.monotonic() < deadline:
                if "console:" in process.stdout.readline():  # its log lines until it says where it serves
                    break
        else:
            time.sleep(4)  # its imports and the first read
        process.send_signal(signal.SIGINT)
        assert process.wait(15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_alert_feed_answers_400_to_a_malformed_last_event_id(api: Served, site: Path) -> None:
    viewer = {"authorization": f"Bearer {token(site, 'vic')}"}
    for bad in ("not-an-id", "12-ab", "$", "0-0-0", "9" * 30):
        answer = httpx.get(f"{api.base}/alerts/stream", headers={**viewer, "last-event-id": bad}, timeout=10)
        assert answer.status_code == 400 and "Last-Event-ID" in answer.json()["error"], bad
    good = RawStream(f"{api.base}/alerts/stream", {**viewer, "last-event-id": "0-0"})
    assert good.status == 200
    good.close()
