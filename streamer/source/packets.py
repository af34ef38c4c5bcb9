"""What the source hands the recorder: each connection's codec parameters, then its packets with wall-clock times."""

from __future__ import annotations

import io
from collections import OrderedDict, deque
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

import av
from av.video.stream import VideoStream


@dataclass(frozen=True, eq=False)
class StreamTemplate:
    """A copy of a connection's video codec parameters, owned by the recorder: the input container (and its
    streams) may be closed by a reconnect while the recorder still opens segments from it. The copy lives in an
    in-memory Matroska container that is never written (Matroska takes every codec)."""

    codec: str
    width: int
    height: int
    time_base: Fraction
    fps: float | None
    stream: VideoStream
    holder: av.container.OutputContainer

    @classmethod
    def copy_of(cls, source: VideoStream) -> "StreamTemplate":
        holder = av.open(io.BytesIO(), mode="w", format="matroska")
        copied = holder.add_stream_from_template(source, opaque=True)
        copied.time_base = source.time_base
        rate = source.average_rate or source.guessed_rate
        return cls(
            source.codec_context.name,
            source.width,
            source.height,
            source.time_base,
            float(rate) if rate else None,
            copied,
            holder,
        )


@dataclass(frozen=True, eq=False)
class EncodedPacket:
    data: bytes
    pts: int  # in the template's time base
    dts: int
    duration: int
    is_keyframe: bool
    wall_ts: float  # wall clock of the frame this packet carries (docs/architecture.md, "Time")
    jump: str | None = None  # set on the first packet after a PTS discontinuity: why the timeline broke


class WallsByPts:
    """The wall-clock time of recent packets by their PTS, so that a frame a decoder hands out later (threads,
    reordering) takes the time of the packet that carried it. Repeated PTS (a file whose clock restarted) are
    taken in order; the oldest entries are forgotten beyond `remembered`."""

    def __init__(self, remembered: int = 512):
        self.remembered = remembered
        self._walls: OrderedDict[int, deque[float]] = OrderedDict()

    def remember(self, pts: int, wall_ts: float) -> None:
        self._walls.setdefault(pts, deque()).append(wall_ts)
        while len(self._walls) > self.remembered:
            self._walls.popitem(last=False)

    def take(self, pts: int) -> float | None:
        walls = self._walls.get(pts)
        if not walls:
            return None
        wall_ts = walls.popleft()
        if not walls:
            del self._walls[pts]
        return wall_ts


class PacketTap(Protocol):
    """Receives a connection's packets in demux order. `put` must not block a live source."""

    def begin(self, template: StreamTemplate) -> None: ...

    def put(self, packet: EncodedPacket) -> None: ...

    def end(self, reason: str) -> None: ...


class PacketTaps:
    """Several taps fed the same packets, in the order given (the recorder first: a file's packets wait for it)."""

    def __init__(self, taps: list[PacketTap]):
        self.taps = taps

    def begin(self, template: StreamTemplate) -> None:
        for tap in self.taps:
            tap.begin(template)

    def put(self, packet: EncodedPacket) -> None:
        for tap in self.taps:
            tap.put(packet)

    def end(self, reason: str) -> None:
        for tap in self.taps:
            tap.end(reason)
