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
