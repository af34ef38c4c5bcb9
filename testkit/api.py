"""Waiting for a real API server (`streamer serve` or `streamer run`) to answer."""

from __future__ import annotations

import subprocess
import time

import httpx


def wait_for_api(base: str, process: subprocess.Popen, timeout_s: float = 60) -> None:
    """Until GET /health answers 200; fails at once with the process's output if it exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"the API process exited with {process.returncode}: {output[-3000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("the API did not come up")


class Served:
    """`streamer serve -c CONFIG` on a free loopback port while the `with` block runs; `log` is its output once it
    has stopped (Ctrl-C, as a user stops it)."""

    def __init__(self, config, *extra: str):
        import sys

        from testkit.rtsp import free_port

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = ""
        self._command = [
            sys.executable,
            "-m",
            "streamer",
            "serve",
            "-c",
            str(config),
            "--api-port",
            str(self.port),
            *extra,
        ]

    def __enter__(self) -> "Served":
        self.process = subprocess.Popen(self._command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            wait_for_api(self.base, self.process)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_exc) -> None:
        import signal

        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.log = self.process.communicate(timeout=15)[0] or ""
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.log = self.process.communicate()[0] or ""
