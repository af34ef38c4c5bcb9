"""One reader of the Redis alert stream for every alert feed of this server: the feeds share one blocking XREAD
(one Redis connection, whatever their number) and each gets its entries through a bounded queue. A feed resuming
from an id (Last-Event-ID, from_start) first reads what it missed with XRANGE, then takes the live entries newer
than the last one it sent: nothing is lost and nothing is sent twice across that join.

A feed whose client reads too slowly to keep up is dropped (its queue is full); the browser reconnects with the
last id it got and catches up with XRANGE, so a slow reader costs the others nothing."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import redis

log = logging.getLogger("streamer.api")

BLOCK_MS = 2_000
QUEUE = 1_000
PAGE = 500
STREAM_ID = re.compile(r"^(\d{1,20})(?:-(\d{1,20}))?$")


class BadStreamId(ValueError):
    pass


def id_key(entry_id: str) -> tuple[int, int]:
    """An entry id as a sortable pair (`1700000000000-3` → (1700000000000, 3)); BadStreamId when it is none."""
    match = STREAM_ID.match(entry_id)
    if match is None:
        raise BadStreamId(f"'{entry_id[:40]}' is not a stream id (<milliseconds>-<sequence>)")
    return int(match[1]), int(match[2] or 0)


@dataclass(frozen=True)
class Entry:
    id: str
    data: str


@dataclass(frozen=True)
class Notice:
    """Not an alert: something the feed says as an SSE comment (Redis unreachable, say)."""

    text: str


@dataclass(eq=False)
class Subscription:
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE))
    overflowed: bool = False


class AlertHub:
    def __init__(self, client, stream: str):
        self.client = client
        self.stream = stream
        self._subscribers: set[Subscription] = set()
        self._task: asyncio.Task | None = None
        self._ready: asyncio.Event | None = None

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    async def newest_id(self) -> str:
        newest = await self.client.xrevrange(self.stream, count=1)
        return newest[0][0].decode() if newest else "0-0"

    async def subscribe(self) -> Subscription:
        """A queue of every entry added from now on; the reader starts with the first subscriber."""
        subscription = Subscription()
        self._subscribers.add(subscription)
        if self._task is None or self._task.done():
            self._ready = asyncio.Event()
            self._task = asyncio.create_task(self._read(self._ready), name="alert-hub")
        await self._ready.wait()  # the reader's starting point is fixed: a catch-up read after this leaves no gap
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    async def missed(self, after: str) -> AsyncIterator[Entry]:
        """The entries after `after` that are in the stream now, oldest first, a page at a time."""
        start = "(" + after
        while True:
            page = await self.client.xrange(self.stream, min=start, max="+", count=PAGE)
            for entry_id, fields in page:
                yield Entry(entry_id.decode(), fields.get(b"data", b"{}").decode())
            if len(page) < PAGE:
                return
            start = "(" + page[-1][0].decode()

    async def _read(self, ready: asyncio.Event) -> None:
        after = None
        try:
            while self._subscribers:
                try:
                    if after is None:
                        after = await self.newest_id()
                        ready.set()
                    reply = await self.client.xread({self.stream: after}, count=PAGE, block=BLOCK_MS)
                except redis.RedisError as error:
                    ready.set()  # the feeds say the outage; their catch-up fails or waits like this read
                    self._broadcast(Notice(f"redis unreachable ({type(error).__name__}); retrying"))
                    await asyncio.sleep(2)
                    continue
                for _, items in reply or ():
                    for entry_id, fields in items:
                        after = entry_id.decode()
                        self._broadcast(Entry(after, fields.get(b"data", b"{}").decode()))
        finally:
            ready.set()

    def _broadcast(self, item: Entry | Notice) -> None:
        for subscription in list(self._subscribers):
            try:
                subscription.queue.put_nowait(item)
            except asyncio.QueueFull:  # this client cannot keep up: it reconnects and catches up from its last id
                subscription.overflowed = True
                self._subscribers.discard(subscription)
