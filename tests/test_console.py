"""The web console in a real browser (Debian's chromium driven by Playwright) against a real `streamer serve` over
recordings with known events and a real Redis: log in; an alert XADDed to the stream appears in the feed without
a reload, and its update changes the same row; the event page's clip plays and seeks; a review from the page is
stored; a viewer of one camera gets a 403 for another camera's event page; screenshots of each page at desktop
and phone width are written to data/console-screenshots (the ones in docs/images come from this test)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from testkit.api import Served
from testkit.redis_server import RedisServer
from tests.helpers.screens import SIZES, shoot

playwright_api = pytest.importorskip("playwright.sync_api", reason="the dev extras install Playwright")
CHROMIUM = Path("/usr/bin/chromium")
STREAMER = [sys.executable, "-m", "streamer"]
PASSWORD = "a console password"
CSP_VIOLATIONS: list[str] = []  # what any page of these tests printed about its Content-Security-Policy

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium (scripts/install_system_deps.sh installs it)"
)


@pytest.fixture(scope="module")
def console(recorded, tmp_path_factory) -> Iterator[tuple[str, Path, RedisServer]]:
    folder = tmp_path_factory.mktemp("console")
    shutil.copytree(recorded.storage, folder / "data", ignore=shutil.ignore_patterns("query", "users.sqlite3"))
    redis_server = RedisServer(folder / "redis").start()
    tree = yaml.safe_load(recorded.config.read_text())
    tree.update(storage_dir=str(folder / "data"), redis={"url": redis_server.url})
    config = folder / "console.yaml"
    config.write_text(yaml.safe_dump(tree))
    for name, extra in (("ann", ["--role", "admin"]), ("vic", ["--camera", "lobby"])):
        subprocess.run(
            [*STREAMER, "users", "add", name, *extra, "--password-stdin", "-c", str(config)],
            input=PASSWORD,
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
    try:
        with Served(config) as served:
            yield served.base, config, redis_server
    finally:
        redis_server.stop()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


def _logged_in(browser, base: str, name: str, size: str = "desktop"):
    page = browser.new_context(viewport=SIZES[size]).new_page()
    page.on(
        "console", lambda message: "Content Security Policy" in message.text and CSP_VIOLATIONS.append(message.text)
    )
    page.goto(f"{base}/alerts")
    assert page.url.startswith(f"{base}/login?next=/alerts")  # no login: the page asks for one
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/alerts")
    return page


def _cookies(page) -> dict[str, str]:
    """The browser's session cookie, for checking through the API what the page did."""
    return {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}


def _shoot(page, name: str) -> None:
    """The page at desktop and at phone width, as test artefacts; the page ran under its CSP without a violation."""
    assert not CSP_VIOLATIONS, CSP_VIOLATIONS
    shoot(page, name)


def test_a_wrong_password_is_said_on_the_page(browser, console) -> None:
    base, _, _ = console
    page = browser.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=name]", "ann")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    page.wait_for_selector("#error:has-text('wrong user name or password')")


def test_an_alert_appears_within_2_s_of_its_xadd_and_its_update_changes_the_same_row(browser, console) -> None:
    base, _, redis_server = console
    page = _logged_in(browser, base, "ann")
    page.wait_for_selector("#status:has-text('live')")
    rows_before = page.locator("#alerts tbody tr").count()
    template = httpx.get(f"{base}/events", timeout=30, cookies=_cookies(page)).json()["events"][0]
    alert = {
        **template,
        "event_id": f"{template['camera']}-{'ab' * 8}",
        "state": "new",
        "end_ts": None,
        "end_iso": None,
        "verification": "pending",
        "review": None,
    }
    client = redis_server.client()
    sent = time.monotonic()
    client.xadd("streamer:alerts", {"data": json.dumps(alert)})
    page.wait_for_selector(f"#ev-{alert['event_id']}", timeout=2000)  # within 2 s, no reload
    latency = time.monotonic() - sent
    assert latency < 2.0
    client.xadd(
        "streamer:alerts",
        {
            "data": json.dumps(
                {
                    **alert,
                    "state": "update",
                    "verification": "confirmed",
                    "risk_level": "high",
                    "description": "seen by the VLM",
                }
            )
        },
    )
    page.wait_for_selector(f"#ev-{alert['event_id']} td.verification.confirmed", timeout=2000)
    assert page.locator(f"#ev-{alert['event_id']}").count() == 1  # changed in place, not a second row
    assert page.locator("#alerts tbody tr").count() == rows_before + 1
    _shoot(page, "alerts")


def test_the_event_page_plays_and_seeks_its_clip_and_takes_a_review(browser, console) -> None:
    base, _, _ = console
    page = _logged_in(browser, base, "ann")
    cookies = _cookies(page)
    event = next(e for e in httpx.get(f"{base}/events", cookies=cookies, timeout=30).json()["events"] if e.get("clip"))
    page.goto(f"{base}/event/{event['event_id']}")
    page.wait_for_function("() => document.getElementById('clip').readyState >= 2", timeout=20000)
    page.evaluate("document.getElementById('clip').play()")
    page.wait_for_function("() => document.getElementById('clip').currentTime > 0.3", timeout=10000)  # it plays
    page.evaluate("(() => { const v = document.getElementById('clip'); v.pause(); v.currentTime = 2.0; })()")
    page.wait_for_function(
        "() => Math.abs(document.getElementById('clip').currentTime - 2.0) < 0.3"
        " && !document.getElementById('clip').seeking",
        timeout=10000,
    )  # and seeks (range requests)
    page.fill("#note", "checked on the console")
    page.click("#true-alarm")
    page.wait_for_selector("#review-now:has-text('true alarm by ann')")
    stored = httpx.get(f"{base}/events/{event['event_id']}", cookies=cookies, timeout=30).json()
    assert stored["event"]["review"]["note"] == "checked on the console"
    _shoot(page, "event")
    page.goto(f"{base}/")
    page.wait_for_selector(".tile .figures")
    _shoot(page, "cameras")


def test_a_viewer_gets_403_for_another_cameras_event_page(browser, console) -> None:
    base, _, _ = console
    admin = _logged_in(browser, base, "ann")
    cookies = _cookies(admin)
    other = next(
        e for e in httpx.get(f"{base}/events", cookies=cookies, timeout=30).json()["events"] if e["camera"] != "lobby"
    )
    viewer = _logged_in(browser, base, "vic")
    assert viewer.goto(f"{base}/event/{other['event_id']}").status == 403
    viewer.goto(f"{base}/alerts")
    viewer.wait_for_selector("#alerts tbody tr")
    assert all(row.inner_text().count("lobby") for row in viewer.locator("#alerts tbody tr").all())


def test_the_timeline_marks_the_fall_at_its_true_time_and_plays_the_recording_from_a_click(
    browser, console, recorded
) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    base, config, _ = console
    fall = next(truth for truth in recorded.truths if truth.camera == "lobby" and truth.type == "fall")
    # the fall's own day in the config's zone: the recording is minutes old, and "today" changes at midnight
    day = (
        datetime.fromtimestamp(fall.start_ts, ZoneInfo(yaml.safe_load(config.read_text())["timezone"]))
        .date()
        .isoformat()
    )
    page = _logged_in(browser, base, "vic")
    page.goto(f"{base}/camera/lobby?day={day}")
    mark = page.wait_for_selector(".axis .mark[data-type=fall]")
    assert abs(float(mark.get_attribute("data-start-ts")) - fall.start_ts) < 1.0
    box, axis = mark.bounding_box(), page.locator("#axis").bounding_box()
    line = httpx.get(f"{base}/cameras/lobby/timeline", params={"day": day}, cookies=_cookies(page), timeout=30).json()
    drawn_ts = line["from_ts"] + (box["x"] + box["width"] / 2 - axis["x"]) / axis["width"] * (
        line["to_ts"] - line["from_ts"]
    )
    assert abs(drawn_ts - fall.start_ts) < 86400 / axis["width"] * 2  # where it is drawn: within 2 pixels of a day
    mark.click()
    page.wait_for_function("() => document.getElementById('player').readyState >= 2", timeout=20000)
    assert (
        abs(float(page.get_attribute("#player", "data-at")) - (float(mark.get_attribute("data-start-ts")) - 2)) < 0.01
    )
    _shoot(page, "timeline")
    assert page.goto(f"{base}/camera/plaza").status == 403


def test_the_question_box_returns_the_fall_with_a_clip(browser, console, recorded) -> None:
    base, _, _ = console
    fall = next(truth for truth in recorded.truths if truth.camera == "lobby" and truth.type == "fall")
    page = _logged_in(browser, base, "ann")
    page.goto(f"{base}/ask")
    page.fill("#q", "when did the person fall")
    page.click("#ask button")
    first = page.wait_for_selector("#hits li", timeout=60000)
    assert first.get_attribute("data-type") == "fall" and first.get_attribute("data-camera") == "lobby"
    assert abs(float(first.get_attribute("data-start-ts")) - fall.start_ts) < 1.0
    page.wait_for_function("() => document.querySelector('#hits li video').readyState >= 1", timeout=30000)
    _shoot(page, "ask")


def test_the_system_page_is_for_admins(browser, console) -> None:
    base, _, _ = console
    admin = _logged_in(browser, base, "ann")
    admin.goto(f"{base}/system")
    admin.wait_for_selector("[data-part=Storage] td")
    status = httpx.get(f"{base}/system/status", cookies=_cookies(admin), timeout=30).json()
    assert status["redis"]["reachable"] and status["storage"]["used_bytes"] > 0 and status["storage"]["free_bytes"] > 0
    _shoot(admin, "system")
    viewer = _logged_in(browser, base, "vic")
    assert viewer.goto(f"{base}/system").status == 403
    assert httpx.get(f"{base}/system/status", cookies=_cookies(viewer), timeout=30).status_code == 403


def test_the_api_page_is_behind_the_login_and_loads_nothing_from_elsewhere(browser, console) -> None:
    base, _, _ = console
    assert httpx.get(f"{base}/openapi.json", timeout=30).status_code == 401
    anonymous = httpx.get(f"{base}/docs", timeout=30)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login?next=/docs"
    page = _logged_in(browser, base, "vic")
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{base}/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=30000)  # Swagger UI drew the operations
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/alerts/stream" in paths and "/events/{event_id}/review" in paths
    assert requested and all(url.startswith(base) for url in requested), [
        u for u in requested if not u.startswith(base)
    ]
    _shoot(page, "api-docs")
