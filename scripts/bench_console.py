"""The web console's figures, in Debian's chromium driven by Playwright against a real service:

- page load: from navigation to the page's content on screen (median and p95), over recordings `streamer run`
  made of clips with known events;
- alert latency: from the XADD of an alert to its row in the alerts page's DOM (median and p95);
- the console's CPU: `streamer run` with 4 live cameras for a while with no browser (the baseline, in the same
  run), then as long with a browser on the cameras page (4 MJPEG tiles) and the alerts feed, then as long with a
  live-video page on every camera (full frame rate): the service's own process (the API runs there), its whole
  process tree (workers and engine too) and the browser's, in CPU-seconds.

    python scripts/bench_console.py [--loads 10] [--alerts 20] [--cpu-s 30] [--smoke]

Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import psutil
import yaml
from playwright.sync_api import sync_playwright

from streamer import assets
from testkit.api import Served, wait_for_api
from testkit.query_scenes import build
from testkit.redis_server import RedisServer
from testkit.rtsp import free_port

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "a console password"
PAGES = {  # path (filled in with an event id) → what shows the page is there
    "cameras": ("/", ".tile .figures"),
    "alerts": ("/alerts", "#alerts tbody tr"),
    "event": ("/event/{event_id}", "#facts dt"),
    "timeline": ("/camera/lobby?day={day}", ".axis .mark"),  # the recording's day: "today" changes at midnight
    "system": ("/system", "[data-part=Storage] td"),
}


def quantiles(values: list[float]) -> dict:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 1),
        "n": len(ordered),
    }


def add_user(config: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "streamer",
            "users",
            "add",
            "ann",
            "--role",
            "admin",
            "--password-stdin",
            "-c",
            str(config),
        ],
        input=PASSWORD,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )


def logged_in(browser, base: str):
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=name]", "ann")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def page_loads(browser, base: str, event_id: str, day: str, loads: int) -> dict:
    page = logged_in(browser, base)
    figures = {}
    for name, (path, ready) in PAGES.items():
        times = []
        for _ in range(loads):
            started = time.perf_counter()
            page.goto(base + path.format(event_id=event_id, day=day))
            page.wait_for_selector(ready, timeout=30000)
            times.append((time.perf_counter() - started) * 1000)
        figures[name] = quantiles(times)
    return figures


def alert_latency(browser, base: str, client, template: dict, count: int) -> dict:
    page = logged_in(browser, base)
    page.goto(f"{base}/alerts")
    page.wait_for_selector("#status:has-text('live')")
    times = []
    for number in range(count):
        alert = {**template, "event_id": f"{template['camera']}-{number:016x}", "state": "new", "review": None}
        started = time.perf_counter()
        client.xadd("streamer:alerts", {"data": json.dumps(alert)})
        page.wait_for_selector(f"#ev-{alert['event_id']}", timeout=10000)
        times.append((time.perf_counter() - started) * 1000)
    return quantiles(times)


def recorded_site(folder: Path, redis_url: str) -> Path:
    models, bikes = REPO / "models", assets.pull(assets.SAMPLES[0], REPO / "data" / "samples")[0]
    for asset in assets.WEIGHTS:
        assets.pull(asset, models)
    recorded = build(folder / "recorded", models, bikes)
    tree = yaml.safe_load(recorded.config.read_text())
    tree.update(storage_dir=str(recorded.storage), redis={"url": redis_url})
    config = folder / "site.yaml"
    config.write_text(yaml.safe_dump(tree))
    add_user(config)
    return config


def live_config(folder: Path, cameras: int, port: int) -> Path:
    bikes = assets.pull(assets.SAMPLES[0], REPO / "data" / "samples")[0]
    names = [f"cam{n}" for n in range(cameras)]
    body = "".join(
        f"""
  {name}:
    url: {bikes}
    start_time: now
    realtime: true
    loop: true
    detect: {{fps: 5, model: {{weights: yolo26n.pt, classes: [person, bicycle, car]}}}}
    zones: {{crossing: {{polygon: [[200, 120], [460, 120], [460, 272], [200, 272]]}}}}
    rules: [{{type: zone_intrusion, zone: crossing, min_inside_s: 1.0}}]
"""
        for name in names
    )
    config = folder / "live.yaml"
    config.write_text(
        f"storage_dir: {folder / 'live-data'}\nmodels_dir: {REPO / 'models'}\napi: {{port: {port}}}\ncameras:{body}"
    )
    add_user(config)
    return config


def cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def tree_cpu(roots: list[psutil.Process]) -> dict[int, float]:
    """CPU seconds so far of each process of these trees (the service: its API, workers and engine)."""
    found = {}
    for root in roots:
        for process in [root, *root.children(recursive=True)]:
            try:
                found[process.pid] = cpu_s(process)
            except psutil.Error:
                pass
    return found


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(after[pid] - before[pid] for pid in before.keys() & after.keys())


def browsers() -> list[psutil.Process]:
    return [
        p
        for p in psutil.process_iter(["name"])
        if "chrom" in (p.info["name"] or "") and p.parent() is not None and "chrom" not in (p.parent().name() or "")
    ]


def measured(service: psutil.Process, seconds: float) -> dict:
    """CPU-seconds over `seconds`: the service's process alone (where the API runs), its whole tree, the browser's."""
    own, tree, browser = cpu_s(service), tree_cpu([service]), tree_cpu(browsers())
    time.sleep(seconds)
    return {
        "api_process": round(cpu_s(service) - own, 2),
        "service": round(spent(tree, tree_cpu([service])), 2),
        "browser": round(spent(browser, tree_cpu(browsers())), 2),
        "seconds": seconds,
    }


def _readers(base: str, cameras: int, cookie: str, measure) -> dict:
    """Every camera's live video read over its WebSocket by a program that only counts what comes (no decoding):
    what relaying it costs the service, apart from a browser's decoding on the same 2 cores."""
    import threading

    from websockets.sync.client import connect

    stop, counts = threading.Event(), [0] * cameras

    def read(number: int) -> None:
        with connect(
            f"{base.replace('http', 'ws')}/cameras/cam{number}/live.ws",
            max_size=None,
            additional_headers={"cookie": cookie},
        ) as socket:
            while not stop.is_set():
                message = socket.recv(timeout=5)
                length = int.from_bytes(message[:4], "big")
                counts[number] += b'"fragment"' in message[4 : 4 + length]

    threads = [threading.Thread(target=read, args=(n,), daemon=True) for n in range(cameras)]
    for thread in threads:
        thread.start()
    time.sleep(3)  # every reader past its first keyframe
    before = list(counts)
    cpu = measure()
    rates = [round((after - first) / cpu["seconds"], 1) for first, after in zip(before, counts, strict=True)]
    stop.set()
    for thread in threads:
        thread.join(10)
    return {"cpu_s": cpu, "rates": rates}


def console_cpu(browser, folder: Path, cameras: int, seconds: float) -> dict:
    """The same `streamer run` of `cameras` live cameras, watched three ways in turn: by nobody, by the cameras
    page (MJPEG tiles) and the alerts feed, and by one live-video page per camera (full frame rate)."""
    port = free_port()
    config = live_config(folder, cameras, port)
    service = subprocess.Popen(
        [sys.executable, "-m", "streamer", "run", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_api(base, service, 180)
        own = psutil.Process(service.pid)
        picture = folder / "live-data" / "live" / f"cam{cameras - 1}.jpg"
        deadline = time.monotonic() + 120
        while not picture.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(5)  # every camera streaming
        nobody = measured(own, seconds)
        tiles = logged_in(browser, base)
        feed = logged_in(browser, base)
        feed.goto(f"{base}/alerts")
        tiles.goto(f"{base}/")
        tiles.wait_for_selector(".tile img")
        console = measured(own, seconds)
        shown = httpx.get(
            f"{base}/cameras", timeout=10, cookies={c["name"]: c["value"] for c in tiles.context.cookies()}
        )
        states = [camera["figures"]["state"] for camera in shown.json()["cameras"] if camera.get("figures")]
        cookie = "; ".join(f"{c['name']}={c['value']}" for c in tiles.context.cookies())
        tiles.close()
        feed.close()
        relayed = _readers(base, cameras, cookie, lambda: measured(own, seconds))
        players = []
        for number in range(cameras):
            page = logged_in(browser, base)
            page.goto(f"{base}/live/cam{number}")
            players.append(page)
        for page in players:
            page.wait_for_function(
                "() => Number(document.getElementById('player').dataset.frames || 0) > 25", timeout=60_000
            )
        frames = [int(page.evaluate("() => window.player.frames")) for page in players]
        live = measured(own, seconds)
        rates = [
            round((int(page.evaluate("() => window.player.frames")) - before) / seconds, 1)
            for page, before in zip(players, frames, strict=True)
        ]
        for page in players:
            page.close()
    finally:
        service.terminate()
        service.wait(60)
    return {
        "cameras": cameras,
        "seconds": seconds,
        "cpu_s_nobody_watching": nobody,
        "cpu_s_cameras_page_and_alerts": console,
        "cpu_s_live_video_read_by_a_program": relayed["cpu_s"],
        "live_video_fragments_a_second_relayed": relayed["rates"],
        "cpu_s_live_video_every_camera_in_the_browser": live,
        "live_video_fps_shown": rates,
        "live_video_relay_share_of_a_core": (
            f"{100 * (relayed['cpu_s']['service'] - nobody['service']) / seconds:.1f} %"
        ),
        "console_share_of_a_core": f"{100 * (console['api_process'] - nobody['api_process']) / seconds:.1f} %",
        "camera_states": states,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--alerts", type=int, default=20)
    parser.add_argument("--cpu-s", type=float, default=30.0)
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--smoke", action="store_true", help="a short run of every part (make test): not figures")
    args = parser.parse_args()
    loads, count, seconds, cameras = (
        (2, 3, 3.0, 1) if args.smoke else (args.loads, args.alerts, args.cpu_s, args.cameras)
    )
    result: dict = {"smoke": args.smoke}
    with tempfile.TemporaryDirectory() as name, sync_playwright() as driver:
        folder = Path(name)
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        redis_server = RedisServer(folder / "redis").start()
        try:
            config = recorded_site(folder, redis_server.url)
            with Served(config) as served:
                page = logged_in(browser, served.base)
                cookies = {c["name"]: c["value"] for c in page.context.cookies()}
                events = httpx.get(f"{served.base}/events", cookies=cookies, timeout=30).json()["events"]
                lobby = next(event for event in events if event["camera"] == "lobby")
                zone = ZoneInfo(yaml.safe_load(config.read_text())["timezone"])
                day = datetime.fromtimestamp(lobby["start_ts"], zone).date().isoformat()
                result["page_load"] = page_loads(browser, served.base, events[0]["event_id"], day, loads)
                result["alert_xadd_to_dom"] = alert_latency(
                    browser, served.base, redis_server.client(), events[0], count
                )
        finally:
            redis_server.stop()
        result["console_cpu"] = console_cpu(browser, folder, cameras, seconds)
        browser.close()
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
