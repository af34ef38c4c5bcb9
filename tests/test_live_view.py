"""The console's live view (issue 17): a real `streamer run` on the street video played as a live camera writes an
annotated JPEG of the camera at least once a second and its figures with each stats line; the API serves them as
a picture, as MJPEG and in GET /cameras, only to users who may see that camera."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import cv2
import httpx
import numpy as np

from testkit.api import wait_for_api
from testkit.rtsp import free_port
from testkit.waiting import wait_until

STREAMER = [sys.executable, "-m", "streamer"]


def _config(folder: Path, models_dir: Path, bikes_mp4: Path, port: int) -> Path:
    config = folder / "live.yaml"
    config.write_text(f"""
storage_dir: {folder / "data"}
models_dir: {models_dir}
logging: {{stats_interval_s: 1}}
api: {{port: {port}}}
cameras:
  street:
    url: {bikes_mp4}
    start_time: now
    realtime: true
    loop: true
    detect: {{fps: 5, model: {{weights: yolo26n.pt, classes: [person, bicycle, car]}}}}
    zones:
      crossing: {{polygon: [[200, 120], [460, 120], [460, 272], [200, 272]]}}
    record: {{mode: "off"}}
  door:
    url: rtsp://127.0.0.1:9/nothing-listens
    connection: {{max_attempts: 1, open_timeout_s: 1, read_timeout_s: 1}}
    detect: {{model: {{weights: yolo26n.pt}}}}
  yard:
    enabled: false
    url: {bikes_mp4}
""")
    return config


def _token(config: Path, name: str, *extra: str) -> str:
    added = subprocess.run(
        [*STREAMER, "users", "add", name, *extra, "--password-stdin", "-c", str(config)],
        input="a long password",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    made = subprocess.run(
        [*STREAMER, "users", "token", name, "-c", str(config)], capture_output=True, text=True, timeout=60
    )
    return made.stdout.strip()


def test_a_running_camera_has_a_live_picture_and_figures_for_those_who_may_see_it(
    tmp_path: Path, models_dir: Path, bikes_mp4: Path, service_factory
) -> None:
    port = free_port()
    config = _config(tmp_path, models_dir, bikes_mp4, port)
    admin = {"authorization": f"Bearer {_token(config, 'ann', '--role', 'admin')}"}
    viewer = {"authorization": f"Bearer {_token(config, 'vic', '--camera', 'yard')}"}
    service = service_factory(config)
    base = f"http://127.0.0.1:{port}"
    wait_for_api(base, service.process, 120)
    picture = tmp_path / "data" / "live" / "street.jpg"
    wait_until(lambda: picture.exists(), timeout=90)

    stamps = set()
    deadline = time.monotonic() + 3.5
    while time.monotonic() < deadline:
        stamps.add(picture.stat().st_mtime_ns)
        time.sleep(0.1)
    assert len(stamps) >= 3, "refreshed at least once a second"
    image = cv2.imdecode(
        np.frombuffer(httpx.get(f"{base}/cameras/street/live.jpg", headers=admin).content, np.uint8), cv2.IMREAD_COLOR
    )
    assert image.shape == (272, 640, 3)
    edge = image[117:124, 210:450].astype(int)  # the crossing zone's top edge, drawn in yellow (BGR 0, 255, 255)
    assert ((edge[..., 0] < 100) & (edge[..., 1] > 160) & (edge[..., 2] > 160)).sum() > 200

    wait_until(
        lambda: (
            (httpx.get(f"{base}/cameras", headers=admin).json()["cameras"][0]["figures"] or {}).get("state")
            == "streaming"
        ),
        timeout=30,
    )
    listed = httpx.get(f"{base}/cameras", headers=admin).json()["cameras"]
    street = next(camera for camera in listed if camera["name"] == "street")
    assert street["picture"] and street["kind"] == "file" and street["figures"]["fps_detected"] > 3
    assert abs(street["figures"]["ts"] - time.time()) < 10
    door = next(camera for camera in listed if camera["name"] == "door")
    assert door["figures"]["state"] == "failed"  # it never streamed: its last stats line or the health stream says so
    assert [camera["name"] for camera in httpx.get(f"{base}/cameras", headers=viewer).json()["cameras"]] == ["yard"]

    parts = 0
    with httpx.stream("GET", f"{base}/cameras/street/live.mjpeg", headers=admin, timeout=20) as response:
        assert response.headers["content-type"].startswith("multipart/x-mixed-replace")
        started = time.monotonic()
        for chunk in response.iter_bytes():
            parts += chunk.count(b"Content-Type: image/jpeg")
            if parts >= 3 or time.monotonic() - started > 6:
                break
    assert parts >= 3, "the MJPEG stream shows each new picture"

    for path in ("/cameras/street/live.jpg", "/cameras/street/live.mjpeg"):
        assert httpx.get(f"{base}{path}", headers=viewer, timeout=10).status_code == 403
    assert httpx.get(f"{base}/cameras/street/live.jpg", timeout=10).status_code == 401
    assert httpx.get(f"{base}/cameras/nowhere/live.jpg", headers=admin, timeout=10).status_code == 404
    service.stop()
