"""When `streamer run` reads its config again: the file changed (its contents, looked at every second), SIGHUP,
or an admin asked through the API (`POST /config/reload`, which bumps `<prefix>:config:reload` on the shared
Redis, so every host of a site reloads). What a reload then does is the supervisor's (runtime/supervisor.py);
a file that does not load is refused, with its errors, and the running config stays."""

from __future__ import annotations

import hashlib
import logging
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import redis

from streamer.alerts.redis_access import connect
from streamer.alerts.streams import reload_key
from streamer.config.loader import ConfigCheck, load_config
from streamer.config.root import StreamerConfig

log = logging.getLogger("streamer.supervisor")

LOOK_EVERY_S = 1.0


class ConfigWatcher:
    def __init__(
        self,
        path: Path,
        read: StreamerConfig,
        checks: Sequence[ConfigCheck] = (),
        redis_url: str | None = None,
        prefix: str = "streamer",
        adjust: Callable[[StreamerConfig], StreamerConfig] = lambda c: c,
    ):
        """`read`: the file as the command loaded it at start (not loaded again here)."""
        self.path = path
        self.read = read  # the file as last read, without the flags
        self.checks = tuple(checks)
        self.adjust = adjust  # the command line's flags, laid over the file as at start
        self.key = reload_key(prefix)
        self.client = connect(redis_url, 1.0, retry=True) if redis_url else None
        self._digest = self._read_digest()
        self._asked: str | None = None
        self._requests: bytes | None = None
        self._requests = self._requests_now()
        self._next_look = 0.0

    def install_sighup(self) -> signal.Handlers | None:
        """SIGHUP asks for a reload (only a flag is set in the handler); returns the handler it replaced."""
        return signal.signal(signal.SIGHUP, lambda *_: self.ask("SIGHUP"))

    def ask(self, why: str) -> None:
        self._asked = why

    def due(self) -> str | None:
        """Why the config should be read again now (None: no reason); cheap when called often."""
        if self._asked is not None:
            why, self._asked = self._asked, None
            self._digest = self._read_digest()
            return why
        now = time.monotonic()
        if now < self._next_look:
            return None
        self._next_look = now + LOOK_EVERY_S
        digest = self._read_digest()
        if digest is not None and digest != self._digest:
            self._digest = digest
            return "the file changed"
        requests = self._requests_now()
        if requests != self._requests:
            self._requests = requests
            return "asked through the API"
        return None

    def load(self) -> StreamerConfig:
        """The file, validated exactly as at start (ConfigError with every issue when it does not load)."""
        self.read = load_config(self.path, checks=self.checks)
        return self.adjust(self.read)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()

    def _read_digest(self) -> str | None:
        try:
            return hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError:
            return None  # being replaced by an editor: looked at again next second

    def _requests_now(self) -> bytes | None:
        if self.client is None:
            return None
        try:
            return self.client.get(self.key)
        except redis.RedisError:
            return self._requests  # unknown: no change seen
