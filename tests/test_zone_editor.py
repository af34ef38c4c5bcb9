"""The zone editor (issue 26) in a real browser (Debian's chromium through Playwright) against a real `streamer run`:
a zone drawn with the mouse on the camera's picture is written into the YAML file with its comments intact, the
running camera's worker takes it in place (not even the camera restarts), and a person walking into it raises
an event; a polygon the loader refuses is refused in the page with the loader's message, and the file stays as it
was."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from testkit.api import wait_for_api
from testkit.rtsp import free_port
from tests.helpers.numbered import numbered_clip
from tests.helpers.screens import shoot

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium")


def _click(page, x: float, y: float) -> None:
    """A click at picture pixel (x, y) of the 640x360 frame, wherever the page laid the picture out."""
    box = page.locator("#canvas svg").bounding_box()
    page.mouse.click(box["x"] + x * box["width"] / 640, box["y"] + y * box["height"] / 360)


MASK = (
    (10, 10),
    (200, 10),
    (200, 60),
)  # over the frame-number strip: a phone's taps land within a picture pixel or two


def _mask_drawn_by_touch(browser, base: str) -> None:
    """On a phone (touch, 390 px wide): a motion mask over the frame-number strip, tapped corner by corner."""
    phone = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = phone.new_page()
    page.goto(f"{base}/camera/walk/zones")
    page.wait_for_function("() => document.querySelector('#canvas img').naturalWidth === 640")
    page.tap("#draw-mask")
    box = page.locator("#canvas svg").bounding_box()
    for x, y in MASK:
        page.touchscreen.tap(box["x"] + x * box["width"] / 640, box["y"] + y * box["height"] / 360)
    page.tap("#finish")
    page.tap("#save")
    page.wait_for_function("() => document.getElementById('editor-status').textContent.startsWith('saved')")
    phone.close()


def test_a_zone_drawn_in_the_page_is_saved_with_the_comments_and_raises_events(
    tmp_path: Path, models_dir: Path, service_factory
) -> None:
    from playwright.sync_api import sync_playwright

    clip = numbered_clip(tmp_path / "walk.mp4", seconds=20)
    port = free_port()
    config = tmp_path / "site.yaml"
    # 10 detected fps: the walker moves 200 px/s, and at 5 fps ByteTrack (as ultralytics') loses it where it turns
    # (a new track is confirmed only on IoU >= 0.3 with its next box, before it has any velocity)
    config.write_text(f"""# the site's cameras: kept by the editor
storage_dir: {tmp_path / "data"}
models_dir: {models_dir}
api: {{port: {port}}}
cameras:
  walk:   # the corridor camera
    url: {clip}
    realtime: true
    loop: true
    start_time: now
    detect: {{fps: 10, model: {{weights: yolo26n.pt, classes: [person]}}}}   # ten a second for a quick walker
    record: {{mode: "off"}}
""")
    service = service_factory(config)
    base = f"http://127.0.0.1:{port}"
    wait_for_api(base, service.process)
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        deadline = time.monotonic() + 60
        while httpx.get(f"{base}/cameras/walk/live.jpg", timeout=10).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
        page.goto(f"{base}/camera/walk/zones")
        page.wait_for_function("() => document.querySelector('#canvas img').naturalWidth === 640")

        page.click("#draw-zone")  # a polygon that two points cannot make: the loader's message, the file untouched
        _click(page, 100, 100)
        _click(page, 300, 100)
        page.click("#finish")
        before = config.read_text()
        page.click("#save")
        page.wait_for_function("() => document.getElementById('editor-error').textContent.length > 0")
        refused = page.locator("#editor-error").inner_text()
        assert "cameras.walk.zones.zone-1.polygon" in refused and "at least 3" in refused, refused
        assert config.read_text() == before
        page.locator(".shapes li button").first.click()  # delete it

        page.click("#draw-zone")
        for x, y in ((60, 120), (600, 120), (600, 355), (60, 355)):
            _click(page, x, y)
        page.click("#finish")
        page.fill(".zone-name", "floor")
        page.dispatch_event(".zone-name", "change")
        page.select_option(".zone-rule", "zone_intrusion")
        page.fill(".zone-seconds", "0.4")
        page.dispatch_event(".zone-seconds", "change")
        saved_at = time.time()
        page.click("#save")
        page.wait_for_function("() => document.getElementById('editor-status').textContent.startsWith('saved')")
        shoot(page, "zones")
        service.wait_for(15, msg="config applied in place", camera="walk")
        _mask_drawn_by_touch(browser, base)
        browser.close()

    text = config.read_text()
    assert text.startswith("# the site's cameras: kept by the editor\n")
    assert "  walk:   # the corridor camera\n" in text and "# ten a second for a quick walker" in text
    assert "    zones:\n      floor:\n        polygon: [[60, 120], [600, 120], [600, 355], [60, 355]]\n" in text
    assert "    - {type: zone_intrusion, zone: floor, min_inside_s: 0.4}\n" in text
    service.wait_for(
        15, msg="config reloaded (the file changed): camera changed: walk (rules, zones.floor.polygon; in place)"
    )
    service.wait_for(15, msg="config applied in place", camera="walk")

    def event():
        events = httpx.get(f"{base}/events", params={"camera": "walk"}, timeout=10).json()["events"]
        return [e for e in events if e["type"] == "zone_intrusion" and (e.get("source") or {}).get("zone") == "floor"]

    deadline = time.monotonic() + 40
    while not event() and time.monotonic() < deadline:
        time.sleep(0.5)
    (first, *_) = event()
    assert first["start_ts"] > saved_at
    audit = [json.loads(line) for line in (tmp_path / "data" / "audit" / "config.jsonl").read_text().splitlines()]
    assert [(a["user"], a["camera"]) for a in audit] == [("local", "walk")] * 2
    assert audit[0]["changes"] == ["camera changed: walk (rules, zones.floor.polygon; in place)"]
    assert audit[1]["changes"] == ["camera changed: walk (detect.motion.masks; in place)"]
    assert len(service.find(msg="worker started")) == 1  # the running worker took the zone: no restart at all

    # once users exist, a viewer reaches neither the editor's API nor its page (an admin's token does)
    streamer = [sys.executable, "-m", "streamer"]
    tokens = {}
    for name, role in (("ann", "admin"), ("vic", "viewer")):
        added = subprocess.run(
            [*streamer, "users", "add", name, "--role", role, "--password-stdin", "-c", str(config)],
            input="a long password",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert added.returncode == 0, added.stderr
        tokens[name] = subprocess.run(
            [*streamer, "users", "token", name, "-c", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.strip()
    as_viewer = {"authorization": f"Bearer {tokens['vic']}"}
    assert httpx.get(f"{base}/cameras/walk/geometry", headers=as_viewer, timeout=10).status_code == 403
    assert (
        httpx.put(f"{base}/cameras/walk/geometry", headers=as_viewer, json={"zones": {}}, timeout=10).status_code == 403
    )
    assert httpx.get(
        f"{base}/camera/walk/zones", headers=as_viewer, timeout=10, follow_redirects=False
    ).status_code in (302, 303, 403)
    as_admin = {"authorization": f"Bearer {tokens['ann']}"}
    shown = httpx.get(f"{base}/cameras/walk/geometry", headers=as_admin, timeout=10).json()
    assert shown["zones"] == {"floor": [[60, 120], [600, 120], [600, 355], [60, 355]]}
