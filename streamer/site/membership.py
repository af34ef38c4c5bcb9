"""The site's hosts on the shared Redis: a sorted set `<prefix>:site:nodes` of host name → the time it last said
it was alive. A host is live while that time is within `lease_s`; one that stops cleanly leaves the set, so a
host that is still in it but silent has died (its cameras were not handed over). Each host also keeps a small
description of itself (`<prefix>:site:node:<name>`: pid, start, cameras) for the console's system page."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

NODES = "site:nodes"
_FORGET_S = 3600.0  # a dead host is remembered this long (its takeovers name it), then dropped from the set


@dataclass(frozen=True)
class Node:
    name: str
    seen_ts: float
    live: bool


class Membership:
    def __init__(self, client, prefix: str, node: str, lease_s: float):
        self.client = client
        self.key = f"{prefix}:{NODES}"
        self.info_key = f"{prefix}:site:node:{node}"
        self.node = node
        self.lease_s = lease_s
        self.started_ts: float | None = None

    def beat(self, now: float, cameras: list[str]) -> None:
        if self.started_ts is None:
            self.started_ts = now
        info = json.dumps(
            {
                "node": self.node,
                "pid": os.getpid(),
                "started_ts": self.started_ts,
                "seen_ts": now,
                "cameras": sorted(cameras),
            }
        )
        with self.client.pipeline() as pipe:
            pipe.zadd(self.key, {self.node: now})
            pipe.set(self.info_key, info, px=int(self.lease_s * 3000))
            pipe.zremrangebyscore(self.key, "-inf", now - _FORGET_S)
            pipe.execute()

    def nodes(self, now: float) -> list[Node]:
        return [
            Node(name.decode(), score, score >= now - self.lease_s)
            for name, score in self.client.zrange(self.key, 0, -1, withscores=True)
        ]

    def live(self, now: float) -> set[str]:
        return {node.name for node in self.nodes(now) if node.live}

    def seen(self, node: str) -> float | None:
        score = self.client.zscore(self.key, node)
        return None if score is None else float(score)

    def leave(self) -> None:
        """A clean stop: this host is no longer in the site (its cameras were handed over first)."""
        with self.client.pipeline() as pipe:
            pipe.zrem(self.key, self.node)
            pipe.delete(self.info_key)
            pipe.execute()
