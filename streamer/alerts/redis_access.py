"""The one place that decides which Redis a process talks to, and opens clients to it: an explicit URL (a flag or
`redis.url`), else the storage folder's embedded server, started when it is not running. Every command, the
service, the API and the workers come here, so the address and the embedded server are worked out one way."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import redis

from streamer.alerts.embedded import EmbeddedRedis
from streamer.config.redis import RedisConfig


def connect(url: str, timeout_s: float, retry: bool = False) -> redis.Redis:
    """By default no client-side retries: each caller's own backoff decides, and a dead server must fail fast.
    `retry`: redis-py's own retries, for a best-effort sender with no backoff of its own (the live picture and
    video, the reload request)."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    if retry:
        return redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        decode_responses=False,
    )


def embedded_for(storage_dir: Path, config: RedisConfig) -> EmbeddedRedis:
    """The storage folder's embedded server (not started)."""
    return EmbeddedRedis(storage_dir / "redis", config.embedded_port)


@dataclass(frozen=True)
class RedisAddress:
    url: str
    embedded: EmbeddedRedis | None  # the storage folder's server, when that is where Redis is
    started_here: bool  # this call started it: whoever asked stops it when done

    @property
    def started(self) -> EmbeddedRedis | None:
        return self.embedded if self.started_here else None


def find_redis(storage_dir: Path, config: RedisConfig, url: str | None = None) -> RedisAddress:
    """`url` (a flag), else `config.url`, else the embedded server, started when it is not running; raises
    EmbeddedRedisError or OSError when it cannot start (the caller says what that means for it)."""
    chosen = url or config.url
    if chosen is not None:
        return RedisAddress(chosen, None, False)
    embedded = embedded_for(storage_dir, config)
    started = embedded.ensure_running()
    return RedisAddress(embedded.url, embedded, started)
