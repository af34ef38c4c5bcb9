"""Start and stop the GStreamer RTSP test server (a real RTSP server on 127.0.0.1)."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path

from testkit.waiting import terminate

SERVER = Path(__file__).with_name("gst_rtsp_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gst_rtsp_available() -> bool:
    probe = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
    try:
        return subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class RtspServer:
    def __init__(self, port: int, fps: int = 10, file: Path | None = None, size: str = "320x240"):
        self.port = port
        self.fps = fps
        self.size = size
        self.file = file
        self.process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/cam"

    def start(self, timeout: float = 15.0) -> "RtspServer":
        self.process = subprocess.Popen(
            [
                SYSTEM_PYTHON,
                str(SERVER),
                str(self.port),
                "--fps",
                str(self.fps),
                "--size",
                self.size,
                *(["--file", str(self.file)] if self.file is not None else []),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("ready") or time.monotonic() > deadline:
            self.stop()
            raise RuntimeError(f"RTSP server did not start: {line!r}")
        self.playing: list[float] = []  # when the stream started playing (epoch seconds), each time it did
        threading.Thread(target=self._read_rest, daemon=True).start()  # and the pipe never fills
        return self

    def _read_rest(self) -> None:
        process = self.process
        for line in process.stdout if process is not None and process.stdout is not None else ():
            if line.startswith("playing "):
                self.playing.append(float(line.split()[1]))

    def stop(self) -> None:
        if self.process is None:
            return
        terminate(self.process, grace_s=5)
        self.process = None
