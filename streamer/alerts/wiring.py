"""Where alerts go for a given config: the Redis address (streamer/alerts/redis_access.py decides it),
and the publishers of a camera worker and of the supervisor, each with its own spool."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from streamer.alerts.embedded import EmbeddedRedis, EmbeddedRedisError
from streamer.alerts.publisher import Publisher
from streamer.alerts.redis_access import embedded_for, find_redis
from streamer.alerts.spool import Spool
from streamer.alerts.streams import StreamNames
from streamer.config.redis import RedisConfig

log = logging.getLogger("streamer.redis")


@dataclass(frozen=True)
class AlertTarget:
    """Everything a process needs to publish: picklable, handed from the supervisor to each worker."""

    url: str
    config: RedisConfig
    spool_dir: Path
    fence: tuple[str, str] | None = None  # a camera's lease on a site (key, value): its writes are refused without it

    @property
    def streams(self) -> StreamNames:
        return StreamNames(self.config.prefix)

    def publisher(self, name: str) -> Publisher:
        spool = Spool(self.spool_dir / f"{name}.jsonl")
        cfg = self.config
        return Publisher(
            name,
            spool,
            self.url,
            cfg.prefix,
            cfg.maxlen,
            cfg.dedupe_ttl_s,
            cfg.connect_timeout_s,
            heartbeat_s=cfg.heartbeat_s,
            fence=self.fence,
        ).start()


def resolve_target(storage_dir: Path, config: RedisConfig) -> tuple[AlertTarget, EmbeddedRedis | None]:
    """With no URL, start (or attach to) the embedded server. If it cannot start, alerts are spooled, not lost."""
    spool_dir = storage_dir / "spool"
    try:
        address = find_redis(storage_dir, config)
    except (EmbeddedRedisError, OSError) as error:
        log.error("embedded redis unavailable: %s; alerts are spooled in %s", error, spool_dir)
        return AlertTarget(embedded_for(storage_dir, config).url, config, spool_dir), None
    embedded = address.embedded
    if embedded is not None:
        log.info(
            "embedded redis %s" % ("started" if address.started_here else "already running"),
            extra={
                "fields": {
                    "url": embedded.url,
                    "data": str(embedded.folder),
                    "connect": "streamer redis cli -c CONFIG …, or redis-cli -s "
                    + str(embedded.socket)
                    + (f" (or -p {config.embedded_port})" if config.embedded_port else ""),
                }
            },
        )
    return AlertTarget(address.url, config, spool_dir), address.started
