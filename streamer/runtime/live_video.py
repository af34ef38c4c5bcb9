"""The camera's live video for the console, from the packets the source already demuxed: while someone watches,
they go out as fragmented MP4 (record/fmp4.py), with the tracks of the detected frames beside them, on one Redis
stream per camera, `<prefix>:live:<camera>:video`. The console (`streamer serve`, on any host of the site) reads
that stream and hands it to the browser; nothing here knows about HTTP.

Nothing is muxed or sent while nobody watches: a viewer keeps `<prefix>:live:<camera>:watched` alive (a key with a
short expiry), and this side looks at it twice a second. The last group of pictures is always kept in memory (on
the source's thread, under a lock: an unwatched camera never wakes the sender thread, which would cost the
detector the GIL), so a viewer's video starts at once, from the latest keyframe, not at the next one. The source
never waits: while watched, `put` also appends to a bounded queue (full: dropped until the next keyframe, as the
recorder does), and a Redis that is away costs the live video, never a frame."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass

import redis

from streamer.alerts.redis_access import connect
from streamer.alerts.streams import video_key, watched_key
from streamer.frame import TrackedFrame
from streamer.record.fmp4 import BROWSER_CODECS, Fmp4Muxer
from streamer.source.packets import EncodedPacket, StreamTemplate

log = logging.getLogger("streamer.worker")

QUEUE_PACKETS = 250
GOP_PACKETS = 600  # the longest group of pictures kept for a viewer's start (24 s at 25 fps)
GOP_BYTES = 16 << 20  # and at most this much of it: past that a new viewer waits for the next keyframe
STREAM_ENTRIES = 1500  # entries kept on the Redis stream: a late viewer finds the latest keyframe in it
STREAM_TTL_S = 15  # the stream goes soon after the last viewer (or the camera) does
WATCH_POLL_S = 0.5


@dataclass(frozen=True)
class _Begin:
    template: StreamTemplate


@dataclass(frozen=True)
class _End:
    reason: str


@dataclass(frozen=True)
class _Shapes:
    shapes: dict


@dataclass(frozen=True)
class _Received:
    packet: EncodedPacket
    at: float  # when the source demuxed it (epoch s): the viewer's "behind the camera" counts from here
    seq: int  # in the order received: a packet both in the kept group and in the queue is muxed once


class _KeptGroup:
    """The last group of pictures, from its keyframe: kept by the source's thread, copied by the sender's."""

    def __init__(self):
        self._lock = threading.Lock()
        self._packets: deque[_Received] = deque(maxlen=GOP_PACKETS)
        self._bytes = 0

    def keep(self, received: _Received) -> None:
        with self._lock:
            if received.packet.is_keyframe or self._bytes > GOP_BYTES:
                self._packets.clear()
                self._bytes = 0
            if self._packets or received.packet.is_keyframe:
                self._packets.append(received)
                self._bytes += len(received.packet.data)

    def clear(self) -> None:
        with self._lock:
            self._packets.clear()
            self._bytes = 0

    def copy(self) -> list[_Received]:
        with self._lock:
            return list(self._packets)


class LiveVideo:
    """A PacketTap (beside the recorder) and a FrameSink (for the tracks): both feed one sender thread."""

    def __init__(self, url: str, prefix: str, camera: str, timeout_s: float = 1.0, shapes: dict | None = None):
        self.client = connect(url, timeout_s, retry=True)
        self.camera = camera
        self.shapes = shapes or {}  # the camera's zones and lines in its pixels, drawn by the player under the boxes
        self.key = video_key(prefix, camera)
        self.watched_key = watched_key(prefix, camera)
        self.watched = False
        self.dropped = 0
        self._inbox: queue.Queue = queue.Queue(QUEUE_PACKETS)
        self._resync = False
        self.kept = _KeptGroup()
        self._received = 0
        self._stop = threading.Event()
        self._failed = False
        self._thread = threading.Thread(target=self._run, name=f"live-video-{camera}", daemon=True)
        self._thread.start()

    # the source's side (PacketTap): never blocks
    def begin(self, template: StreamTemplate) -> None:
        self.kept.clear()
        self._offer(_Begin(template), force=True)

    def put(self, packet: EncodedPacket) -> None:
        self._received += 1
        received = _Received(packet, time.time(), self._received)
        self.kept.keep(received)  # before `watched` is read: a viewer's start finds it in the copy or the queue
        if not self.watched or (self._resync and not packet.is_keyframe):
            return
        self._resync = not self._offer(received)

    def end(self, reason: str) -> None:
        self.kept.clear()
        self._offer(_End(reason), force=True)

    def reconfigure(self, camera) -> None:
        """A reload changed the zones or lines: viewers get a new init segment carrying them (the player starts
        again from the last keyframe, as on a new connection)."""
        shapes = camera_shapes(camera)
        if shapes != self.shapes:
            self._offer(_Shapes(shapes), force=True)

    # the detected frames' side (FrameSink)
    def __call__(self, tracked: TrackedFrame) -> None:
        if self.watched:
            self._offer(tracked)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self.client.close()

    def _offer(self, item, force: bool = False) -> bool:
        try:
            self._inbox.put_nowait(item)
            return True
        except queue.Full:
            if force:  # a new connection's parameters must not be lost: make room
                try:
                    self._inbox.get_nowait()
                except queue.Empty:
                    pass
                self._inbox.put_nowait(item)
                return True
            self.dropped += 1
            return False

    def _run(self) -> None:
        sender = _Sender(self)
        next_poll = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_poll:
                next_poll = now + WATCH_POLL_S
                sender.watch(self._is_watched())
            try:
                item = self._inbox.get(timeout=0.1 if sender.watching else WATCH_POLL_S)  # idle: 2 wakes a second
            except queue.Empty:
                continue
            try:
                sender.take(item)
            except redis.RedisError as error:
                self._said(error)
            except Exception:  # a packet the muxer refuses: the live video restarts at the next keyframe
                log.exception("live video: muxing failed", extra={"fields": {"camera": self.camera}})
                sender.restart()
        sender.stop()

    def _is_watched(self) -> bool:
        try:
            self.watched = bool(self.client.exists(self.watched_key))
            self._failed = False
        except redis.RedisError as error:
            self._said(error)
            self.watched = False
        return self.watched

    def _said(self, error: Exception) -> None:
        if not self._failed:
            log.warning("live video not shared: %s", error, extra={"fields": {"camera": self.camera}})
        self._failed = True


class _Sender:
    """The sender thread's state: the current connection's template, the muxer, the last packet it muxed."""

    def __init__(self, owner: LiveVideo):
        self.owner = owner
        self.template: StreamTemplate | None = None
        self.muxer: Fmp4Muxer | None = None
        self.muxed = 0  # the seq of the last packet muxed
        self.watching = False
        self._received_at = 0.0

    def watch(self, watched: bool) -> None:
        if watched and not self.watching:
            self.watching = True
            self._open()
        elif not watched and self.watching:
            self.watching = False
            self.restart()

    def restart(self) -> None:
        if self.muxer is not None:
            self.muxer.close()
        self.muxer = None
        if self.watching:
            self._open()

    def stop(self) -> None:
        if self.muxer is not None:
            self.muxer.close()

    def take(self, item) -> None:
        if isinstance(item, _Begin):
            self.template = item.template
            self.restart()
        elif isinstance(item, _Shapes):
            self.owner.shapes = item.shapes  # read by _open
            self.restart()
        elif isinstance(item, _End):
            self.template = None  # the next connection begins with its own
            self.restart()
            if self.watching:
                self._send({"type": "ended", "reason": item.reason})
        elif isinstance(item, _Received):
            if item.seq <= self.muxed:
                return  # muxed already, from the kept group
            if self.muxer is not None:
                self._fragment(item)
            elif (
                self.watching
                and item.packet.is_keyframe
                and self.template is not None
                and self.template.codec in BROWSER_CODECS
            ):
                self._open()
        elif isinstance(item, TrackedFrame) and self.muxer is not None:
            self._send(_tracks(item, self.muxer.origin_s))

    def _open(self) -> None:
        """A muxer from the latest keyframe on: its init segment, then the group of pictures so far."""
        if self.template is not None and self.template.codec not in BROWSER_CODECS:
            self._send({"type": "unplayable", "codec": self.template.codec})  # the viewer shows the JPEG picture
            return
        group = self.owner.kept.copy()
        if self.template is None or not group:
            return
        self.muxer = Fmp4Muxer(self.template, group[0].packet)
        self._send(
            {
                "type": "init",
                "mime": f'video/mp4; codecs="{self.muxer.codec_string}"',
                "width": self.template.width,
                "height": self.template.height,
                "origin_s": self.muxer.origin_s,
                **self.owner.shapes,
            },
            self.muxer.init,
        )
        for received in group:
            self._fragment(received)

    def _fragment(self, received: _Received) -> None:
        self.muxed = received.seq
        done = self.muxer.mux(received.packet)
        if done is not None:  # the previous packet's fragment
            carried, data = done
            self._send(
                {
                    "type": "fragment",
                    "key": carried.is_keyframe,
                    "wall_ts": carried.wall_ts,
                    "received_ts": self._received_at,
                    "pts_s": float(carried.pts * self.template.time_base),
                },
                data,
            )
        self._received_at = received.at

    def _send(self, head: dict, data: bytes = b"") -> None:
        client = self.owner.client
        pipe = client.pipeline(transaction=False)
        pipe.xadd(self.owner.key, {"head": json.dumps(head), "data": data}, maxlen=STREAM_ENTRIES, approximate=True)
        pipe.expire(self.owner.key, STREAM_TTL_S)
        pipe.execute()


def _tracks(tracked: TrackedFrame, origin_s: float) -> dict:
    """The boxes of one detected frame, at its time on the video's own clock (`t`, seconds from the muxer's start)."""
    frame, found = tracked.frame, tracked.detections
    scale = (frame.width, frame.height) * 2
    names = found.data.get("class_name", [""] * len(found))
    ids = found.tracker_id if found.tracker_id is not None else [None] * len(found)
    boxes = [
        {
            "id": None if track is None else int(track),
            "label": str(name),
            "box": [round(float(v) / s, 4) for v, s in zip(xyxy, scale)],
        }  # fractions of the picture
        for xyxy, track, name in zip(found.xyxy, ids, names)
    ]
    return {"type": "tracks", "t": round(frame.pts_s - origin_s, 4), "wall_ts": frame.wall_ts, "boxes": boxes}


def camera_shapes(camera) -> dict:
    """What the player draws of the camera's config: `zones` (name → polygon) and `lines` (a crossing rule's
    name, start and end), in the camera's pixels."""
    lines = [
        {"name": rule.rule_name, "start": list(rule.start), "end": list(rule.end)}
        for rule in camera.rules
        if rule.type == "line_crossing"
    ]
    return {
        "zones": {name: [list(point) for point in zone.polygon] for name, zone in camera.zones.items()},
        "lines": lines,
    }
