"""The HTTP API of a real `streamer serve` on 127.0.0.1, fuzzed from its own OpenAPI schema (Schemathesis,
valid and invalid requests) and with hand-written traversal and overflow cases: no 5xx, and no response that
carries a file from outside what it may serve (a planted secret, the index, /etc/passwd)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from testkit.api import wait_for_api
from testkit.rtsp import free_port

SECRET = b"chaos-secret-not-for-the-api"
LEAK_MARKS = (SECRET, b"root:x:0:0", b"SQLite format 3")

HOSTILE = [
    "/clips/..%2F..%2Findex.sqlite3",
    "/clips/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/snapshots/..%5C..%5Csecret.txt",
    "/clips/%00",
    "/clips/" + "a" * 5000,
    "/snapshots/....%2F%2Fsecret.txt",
    "/clips/%2Fetc%2Fpasswd",
    "/query?q=" + "x" * 10_000,
    "/query?q=fall&since=99999999999999999999",
    "/query?q=fall&since=%2B999999999h",
    "/query?q=fall&since=1e400",
    "/query?q=fall&until=-99999999999d",
    "/query?q=fall&camera=%00",
    "/query?q=%ff%fe%00",
    "/query?q=fall&scan=maybe",
    "/query?q=fall&since=2026-02-30T25:61",
    "/query?q=fall&since=2026-01-02&until=2026-01-01",
    "/docs/../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
]


STREAMING = {"/alerts/stream", "/cameras/{name}/live.mjpeg"}
STREAMING_HOSTILE = [
    "/alerts/stream?camera=%00",
    "/alerts/stream?min_risk=extreme",
    "/alerts/stream?verification=yes",
    "/alerts/stream?camera=" + "c" * 5000,
    "/alerts/stream?from_start=perhaps",
    "/alerts/stream",
    "/cameras/..%2F..%2Fsecret/live.mjpeg",
    "/cameras/%00/live.mjpeg",
    "/cameras/nope/live.mjpeg",
]


class _Head:
    """A streamed response's status and first bytes, as `record` reads a response."""

    def __init__(self, status_code: int, content: bytes):
        self.status_code, self.content = status_code, content


def _first_bytes(response) -> _Head:
    content = b""
    for chunk in response.iter_bytes():
        content += chunk
        break
    return _Head(response.status_code, content)


def run(config: Path, storage: Path, examples: int) -> dict:
    (storage / "secret.txt").write_bytes(SECRET)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "streamer", "serve", "--config", str(config), "--api-port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    statuses: dict[str, int] = {}
    server_errors: list[str] = []
    leaks: list[str] = []

    def record(label: str, response) -> None:
        key = f"{response.status_code // 100}xx"
        statuses[key] = statuses.get(key, 0) + 1
        if response.status_code >= 500:
            server_errors.append(f"{label} -> {response.status_code}")
        if any(mark in response.content for mark in LEAK_MARKS):
            leaks.append(label)

    try:
        wait_for_api(base, server, 90)
        for path in HOSTILE:
            record(path[:80], httpx.get(base + path, timeout=60))
        for path in STREAMING_HOSTILE:  # a stream never ends: only its status and first bytes are read
            with httpx.stream("GET", base + path, timeout=30) as response:
                record(path[:80], _first_bytes(response))
        schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.path in STREAMING:
                continue
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz(operation, mode, examples, base, record)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
    log = server.stdout.read() if server.stdout else ""
    return {
        "requests": sum(statuses.values()),
        "by_status": statuses,
        "server_errors": len(server_errors),
        "server_error_examples": server_errors[:5],
        "leaks": len(leaks),
        "leak_examples": leaks[:5],
        "tracebacks_logged": log.count("Traceback"),
    }


def _fuzz(operation, mode, examples: int, base: str, record) -> None:
    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(operation.as_strategy(generation_mode=mode))
    def one(case) -> None:
        try:
            response = case.call(base_url=base, timeout=60)
        except Exception as error:  # an unsendable request (say, a header with a newline) is not the server's fault
            if "Invalid" in type(error).__name__ or "Invalid" in str(error):
                return
            raise
        record(f"{mode.value} {case.method} {case.formatted_path}", response)

    try:
        one()
    except Unsatisfiable:
        pass  # no invalid request exists for an operation without parameters (GET /health)
