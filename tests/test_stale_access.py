"""Access that ends when it should (issue 23), on a real `streamer serve` with a real Redis: API tokens expire and
are revoked one by one; a login ends the browser's old session, and `users logout` / `users passwd` end every
session; an alert feed or a live picture stops within seconds of its login going (logout, a revoked token, the
user removed); streams are capped per user and in all, and every feed of a server shares one Redis reader. Then
the pieces below them: one scrypt per check whatever the name, old hashes upgraded, the CSRF token compared in
constant time, the alert list's filters on an index, and the cut cache cutting in parallel but each file once."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from testkit.api import Served
from testkit.redis_server import RedisServer
from testkit.sites import add_user, site_copy, token, users
from testkit.streams import RawStream as Stream

PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def site(recorded, tmp_path_factory, redis_server: RedisServer) -> Path:
    config = site_copy(
        recorded, tmp_path_factory.mktemp("stale"), redis_server.url, api={"max_streams": 6, "max_streams_per_user": 4}
    )
    for name, extra in (("ann", ("--role", "admin")), ("vic", ("--camera", "lobby")), ("sam", ())):
        add_user(config, name, PASSWORD, *extra)
    return config


@pytest.fixture(scope="module")
def api(site: Path) -> Iterator[Served]:
    with Served(site) as served:
        yield served


def _login(base: str, name: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    answer = client.post("/login", json={"name": name, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    client.headers["x-csrf-token"] = answer.json()["csrf"]
    return client


def test_tokens_expire_and_are_revoked_one_by_one(api: Served, site: Path) -> None:
    brief = token(site, "vic", "--expires", "2s")
    assert httpx.get(f"{api.base}/me", headers={"authorization": f"Bearer {brief}"}).status_code == 200
    first, second = token(site, "vic", "--label", "grafana"), token(site, "vic", "--label", "script")
    listed = users(site, "tokens", "list", "vic").stdout.splitlines()
    assert len(listed) >= 3 and any("grafana" in line for line in listed), listed
    grafana_id = next(line.split()[0] for line in listed if " grafana " in line)
    assert hashlib.sha256(first.encode()).hexdigest().startswith(grafana_id)  # its id is its digest's start
    revoked = users(site, "tokens", "revoke", grafana_id)
    assert revoked.returncode == 0 and "grafana" in revoked.stdout
    assert httpx.get(f"{api.base}/me", headers={"authorization": f"Bearer {first}"}).status_code == 401
    assert httpx.get(f"{api.base}/me", headers={"authorization": f"Bearer {second}"}).status_code == 200
    assert users(site, "tokens", "revoke", "0123456789ab").returncode == 2
    time.sleep(3.0)  # past the brief token's end
    expired = httpx.get(f"{api.base}/me", headers={"authorization": f"Bearer {brief}"})
    assert expired.status_code == 401 and "expired" in expired.json()["error"]


def test_a_login_ends_the_browsers_old_session_and_logout_everywhere_ends_them_all(api: Served, site: Path) -> None:
    browser = _login(api.base, "sam")
    old = dict(browser.cookies)
    assert browser.post("/login", json={"name": "sam", "password": PASSWORD}).status_code == 200  # the same browser
    assert httpx.get(f"{api.base}/me", cookies=old).status_code == 401  # its earlier session ended
    assert browser.get("/me").status_code == 200
    laptop, phone = _login(api.base, "ann"), _login(api.base, "ann")
    ended = users(site, "logout", "ann")
    assert ended.returncode == 0 and "2 session(s) ended" in ended.stdout
    assert laptop.get("/me").status_code == 401 and phone.get("/me").status_code == 401
    again = _login(api.base, "sam")
    changed = users(site, "passwd", "sam", "--password-stdin", stdin=PASSWORD + " renewed")
    assert changed.returncode == 0 and again.get("/me").status_code == 401 and browser.get("/me").status_code == 401
    assert users(site, "passwd", "sam", "--password-stdin", stdin=PASSWORD).returncode == 0


def test_streams_end_within_seconds_when_their_login_goes(api: Served, site: Path) -> None:
    browser = _login(api.base, "vic")
    feed = Stream(f"{api.base}/alerts/stream", cookies=dict(browser.cookies))
    picture = Stream(f"{api.base}/cameras/lobby/live.mjpeg", cookies=dict(browser.cookies))
    assert feed.status == picture.status == 200
    assert browser.post("/logout").status_code == 200
    assert feed.ended.wait(6) and picture.ended.wait(6), "a stream outlived its session's logout"
    secret = token(site, "vic")
    by_token = Stream(f"{api.base}/alerts/stream", {"authorization": f"Bearer {secret}"})
    listed = users(site, "tokens", "list", "vic").stdout.splitlines()
    digest = hashlib.sha256(secret.encode()).hexdigest()
    newest = next(line.split()[0] for line in listed if digest.startswith(line.split()[0]))
    assert users(site, "tokens", "revoke", newest).returncode == 0
    assert by_token.ended.wait(6), "a feed outlived its revoked token"
    add_user(site, "gone", PASSWORD)
    doomed = Stream(f"{api.base}/cameras/lobby/live.mjpeg", {"authorization": f"Bearer {token(site, 'gone')}"})
    started = time.monotonic()
    assert users(site, "remove", "gone").returncode == 0
    assert doomed.ended.wait(6), "a removed user's live picture went on"
    assert time.monotonic() - started < 6
    for stream in (feed, picture, by_token, doomed):
        stream.close()


def test_streams_are_capped_per_user_and_in_all_and_share_one_redis_reader(
    api: Served, site: Path, redis_server: RedisServer
) -> None:
    with redis_server.client() as client:
        before = len(client.client_list())
        sam = {"authorization": f"Bearer {token(site, 'sam')}"}
        ann = {"authorization": f"Bearer {token(site, 'ann')}"}
        held = [Stream(f"{api.base}/alerts/stream", sam) for _ in range(4)]
        assert [stream.status for stream in held] == [200] * 4
        over = httpx.get(f"{api.base}/alerts/stream", headers=sam, timeout=10)
        assert over.status_code == 429 and "max_streams_per_user" in over.json()["error"]
        held += [Stream(f"{api.base}/alerts/stream", ann) for _ in range(2)]
        assert httpx.get(f"{api.base}/cameras/lobby/live.mjpeg", headers=ann, timeout=10).status_code == 429  # 6 in all
        assert len(client.client_list()) - before <= 2  # six feeds, one reader (and one connection for catch-ups)
        held.pop().close()
        deadline = time.monotonic() + 10
        while True:  # the closed one's slot comes back once the server sees it gone
            reopened = Stream(f"{api.base}/alerts/stream", ann)
            if reopened.status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        held.append(reopened)
        assert reopened.status == 200
        for stream in held:
            stream.close()


def _count_scrypt(monkeypatch) -> list[int]:
    from streamer.auth import passwords

    calls: list[int] = []
    real = passwords.hashlib.scrypt

    def counted(*args, **kwargs):
        calls.append(kwargs["n"])
        return real(*args, **kwargs)

    monkeypatch.setattr(passwords.hashlib, "scrypt", counted)
    return calls


def test_an_unknown_name_costs_one_scrypt_like_a_known_one_and_old_hashes_are_upgraded(
    tmp_path: Path, monkeypatch
) -> None:
    from streamer.auth.passwords import hash_password, verify_unknown
    from streamer.auth.store import UserStore
    from streamer.auth.users import Role

    store = UserStore(tmp_path)
    store.add("ann", Role.ADMIN, PASSWORD)
    verify_unknown("warm")  # the stand-in hash is made once, ahead of any request
    calls = _count_scrypt(monkeypatch)
    assert store.check_password("nobody", PASSWORD) is None and calls == [2**17]
    calls.clear()
    assert store.check_password("ann", "wrong password") is None and calls == [2**17]
    old = hash_password(PASSWORD).replace("$131072$", "$32768$", 1)  # the shape a 2^15 hash has
    old = (
        "$".join(old.split("$")[:5])
        + "$"
        + hashlib.scrypt(
            PASSWORD.encode(), salt=bytes.fromhex(old.split("$")[4]), n=2**15, r=8, p=1, maxmem=64 << 20
        ).hex()
    )
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE users SET password = ? WHERE name = 'ann'", (old,))
    assert store.check_password("ann", PASSWORD) is not None
    with sqlite3.connect(store.path) as conn:
        (upgraded,) = conn.execute("SELECT password FROM users WHERE name = 'ann'").fetchone()
    assert upgraded.startswith("scrypt$131072$8$1$") and store.check_password("ann", PASSWORD) is not None


def test_the_csrf_token_is_compared_in_constant_time(monkeypatch) -> None:
    from streamer.api import security

    compared: list[tuple[str, str]] = []
    real = security.hmac.compare_digest
    monkeypatch.setattr(security.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b))

    class Request:  # what `authenticate` reads of a session's POST
        method, app = "POST", type("App", (), {"state": type("State", (), {})})()
        headers = {"x-csrf-token": "guess"}
        cookies = {security.COOKIE: "a-session"}

    class Store:
        def session(self, _token):
            from streamer.auth.store import Session
            from streamer.auth.users import LOCAL

            return Session("a-session", "the-real-token", LOCAL, 0)

    auth = type("Auth", (), {"mode": security.AuthMode.USERS, "store": Store()})()
    Request.app.state.auth = auth
    with pytest.raises(Exception, match="CSRF"):
        security.authenticate(Request())
    assert compared == [("guess", "the-real-token")]


def test_the_alert_list_filters_read_through_an_index(tmp_path: Path) -> None:
    from streamer.index import db, store

    conn = db.connect(tmp_path)
    for column, value in (("type", "nothing"), ("verification", "confirmed"), ("risk_level", "high"), ("camera", "x")):
        query = f"SELECT payload_json FROM events WHERE {column} IN (?) ORDER BY start_ts DESC LIMIT 5"
        plan = " ".join(row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + query, (value,)))
        assert "USING INDEX" in plan and "SCAN events" not in plan, (column, plan)
    assert store.latest_events(conn, types=["nothing"]) == [] and store.latest_events(conn, cameras=[]) == []
    conn.close()


def test_cuts_are_made_in_parallel_each_file_once_and_age_out(tmp_path: Path) -> None:
    from streamer.record.cuts import CutCache

    cache = CutCache(tmp_path, max_bytes=10_000, max_age_s=60)
    made: list[str] = []

    def slow(path: Path) -> None:
        made.append(path.name)
        time.sleep(0.6)
        path.write_bytes(b"x" * 1000)

    targets = [tmp_path / "query" / "recordings" / f"cam-{n}-1000.mp4" for n in (1, 2, 1, 2)]
    started = time.monotonic()
    threads = [threading.Thread(target=cache.made, args=(target, slow)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(made) == ["cam-1-1000.part.mp4", "cam-2-1000.part.mp4"]  # each once, though asked twice
    assert time.monotonic() - started < 1.1  # the two different cuts ran side by side, not one after the other
    assert cache.usage() == 2000
    assert cache.prune(now=time.time() + 61) == 2000 and cache.usage() == 0  # unplayed past max_age_s
