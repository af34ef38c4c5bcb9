"""`streamer alerts tail`: read alerts from a stream, alone (XREAD) or as one consumer of a group.

With a group, delivery is at-least-once: an entry is acknowledged (XACK) only after it has been written out,
and entries another consumer read but never acknowledged (it died) are claimed with XAUTOCLAIM once they
have been idle for `claim_idle_s`, then handed out again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import redis

from streamer.alerts.payload import AlertPayload, Verification
from streamer.alerts.reading import NotAnAlert, read_alert

READ_BATCH = 50


@dataclass(frozen=True)
class Entry:
    stream_id: str
    data: str
    claimed: bool = False  # re-delivered from a consumer that never acknowledged it
    stream: str = ""  # which of the streams read it came from (a tail of several cameras)


def _streams(stream: str | Sequence[str]) -> list[str]:
    return [stream] if isinstance(stream, str) else list(stream)


def _by_time(reply) -> list[tuple[str, bytes, dict]]:
    """The entries of several streams in one time order (stream ids start with their XADD's milliseconds)."""
    items = [(_text(name), entry_id, fields) for name, entries in reply or [] for entry_id, fields in entries]
    return sorted(items, key=lambda item: tuple(int(part) for part in _text(item[1]).split("-")))


class StreamTail:
    """Plain reader of one stream or several (one per camera): every entry from the start, or only new ones."""

    def __init__(
        self,
        client: redis.Redis,
        stream: str | Sequence[str],
        from_start: bool,
        block_ms: int = 1000,
        follow: bool = True,
    ):
        self.client = client
        self.streams = _streams(stream)
        self.block_ms = block_ms
        self.follow = follow
        self._last = {name: "0-0" if from_start else "$" for name in self.streams}

    def entries(self) -> Iterator[Entry]:
        while True:
            reply = self.client.xread(dict(self._last), count=READ_BATCH, block=self.block_ms if self.follow else None)
            if not reply and not self.follow:
                return
            for name, entry_id, fields in _by_time(reply):
                self._last[name] = _text(entry_id)
                yield Entry(_text(entry_id), _text(fields.get(b"data", b"")), stream=name)

    def done(self, entry: Entry) -> None:
        """Nothing to acknowledge without a group."""


class GroupTail:
    """One consumer of a consumer group; `done(entry)` acknowledges after the caller has written it out."""

    def __init__(
        self,
        client: redis.Redis,
        stream: str | Sequence[str],
        group: str,
        consumer: str,
        from_start: bool,
        claim_idle_s: float = 30.0,
        block_ms: int = 1000,
        follow: bool = True,
        until: Callable[[], bool] | None = None,
    ):
        self.client = client
        self.follow = follow
        self.until = until  # asked after a read that found nothing: True ends the entries (a drain is done)
        self.streams = _streams(stream)
        self.group = group
        self.consumer = consumer
        self.claim_idle_ms = max(1, round(claim_idle_s * 1000))
        self.block_ms = block_ms
        self._next_claim = 0.0
        self._create_group("0" if from_start else "$")

    def _create_group(self, start: str) -> None:
        for stream in self.streams:
            try:
                self.client.xgroup_create(stream, self.group, id=start, mkstream=True)
            except redis.ResponseError as error:
                if "BUSYGROUP" not in str(error):  # the group exists: it keeps its own position
                    raise

    def entries(self) -> Iterator[Entry]:
        yield from self._own_pending()  # what this consumer name read before a crash and never acknowledged
        while True:
            if time.monotonic() >= self._next_claim:
                yield from self._claim_abandoned()
                self._next_claim = time.monotonic() + min(5.0, self.claim_idle_ms / 1000)
            block = min(self.block_ms, self.claim_idle_ms) if self.follow else None
            reply = self.client.xreadgroup(
                self.group, self.consumer, {name: ">" for name in self.streams}, count=READ_BATCH, block=block
            )
            if not reply and (not self.follow or (self.until is not None and self.until())):
                return
            for name, entry_id, fields in _by_time(reply):
                yield Entry(_text(entry_id), _text(fields.get(b"data", b"")), stream=name)

    def done(self, entry: Entry) -> None:
        self.client.xack(entry.stream or self.streams[0], self.group, entry.stream_id)

    def _own_pending(self) -> Iterator[Entry]:
        reply = self.client.xreadgroup(self.group, self.consumer, {name: "0" for name in self.streams}, count=10_000)
        for name, entry_id, fields in _by_time(reply):
            if fields:
                yield Entry(_text(entry_id), _text(fields.get(b"data", b"")), claimed=True, stream=name)
            else:  # trimmed away by MAXLEN while pending
                self.client.xack(name, self.group, entry_id)

    def _claim_abandoned(self) -> Iterator[Entry]:
        for stream in self.streams:
            start = "0-0"
            while True:
                reply = self.client.xautoclaim(
                    stream, self.group, self.consumer, self.claim_idle_ms, start_id=start, count=READ_BATCH
                )
                start, items = _text(reply[0]), reply[1]
                for item in items:
                    if item is None or not item[1]:
                        continue  # Redis 6.2 reports entries trimmed since as nil
                    yield Entry(_text(item[0]), _text(item[1].get(b"data", b"")), claimed=True, stream=stream)
                if start == "0-0":
                    break


def human_line(entry: Entry) -> str:
    try:
        alert = read_alert(entry.data).alert
    except NotAnAlert as problem:
        return f"{entry.stream_id} (not an alert: {problem}) {entry.data[:200]}"
    track = f" #{alert.track_id}" if alert.track_id is not None else ""
    end = f" → {alert.end_iso}" if alert.end_iso else ""
    return (
        f"{alert.start_iso}{end} {alert.camera} {alert.type} {alert.state} {alert.label}{track} "
        f"conf {alert.confidence:.2f}{_verdict(alert)} [{alert.event_id}] {alert.clip or alert.snapshot}"
    )


def _verdict(alert: AlertPayload) -> str:
    """' pending', or what the VLM said: ' confirmed high (VLM 09:00:04.4–09:00:06.4: "…")'."""
    if alert.verification == Verification.UNVERIFIED:
        return ""
    text = f" {alert.verification}"
    if alert.risk_level:
        text += f" {alert.risk_level}"
    vlm = alert.vlm
    if vlm is not None and vlm.start_iso:
        text += f" (VLM {vlm.start_iso[11:23]}–{(vlm.end_iso or '')[11:23]}"
        text += f': "{alert.description}")' if alert.description else ")"
    elif vlm is not None and vlm.error:
        text += f" ({vlm.status}: {vlm.error[:80]})"
    return text


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
