"""A camera's frames: connect, decode, sample by PTS, stamp wall-clock time, reconnect on failure."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import av
import av.container
from av.video.stream import VideoStream

from streamer.config.cameras import CameraConfig, SourceKind
from streamer.core.backoff import Backoff
from streamer.frame import Frame
from streamer.redact import scrub
from streamer.source.opening import SourceOpenError, open_container, recorded_start_ts
from streamer.source.packets import EncodedPacket, PacketTap, StreamTemplate, WallsByPts
from streamer.source.state import SourceState, SourceStateMachine, StateListener
from streamer.source.timing import FileClock, FpsSampler, LiveClock, MediaTimeline

log = logging.getLogger("streamer.source")

CORRUPT_LOG_EVERY_S = 10.0  # a stream full of bad packets logs a line this often, with the running count


class StreamStalled(Exception):
    pass


@dataclass
class SourceCounters:
    received: int = 0  # every frame the camera sent (one packet each)
    decoded: int = 0  # every frame the decoder produced (fewer than received where non-reference frames are skipped)
    converted: int = 0  # frames turned into pixels (sampled for detection)
    connections: int = 0
    last_pts_s: float | None = None
    last_gap_s: float | None = None  # spacing of the last two frames: the best guess of the last frame's duration
    duration_s: float | None = None  # files: the stream's duration, for progress
    corrupt_packets: int = 0  # packets the decoder refused as invalid data: skipped, the stream goes on
    corrupt_frames: int = 0  # frames a damaged decoder handed out again or out of order: dropped


class VideoSource:
    """Iterate `frames()` from a worker thread; `stop_event` ends it between packets."""

    def __init__(
        self,
        name: str,
        camera: CameraConfig,
        stop_event: threading.Event,
        on_state: StateListener | None = None,
        now: Callable[[], float] = time.time,
        packet_tap: PacketTap | None = None,
    ):
        self.name = name
        self.camera = camera
        self.stop_event = stop_event
        self.state = SourceStateMachine(name, on_state)
        self.counters = SourceCounters()
        self._now = now
        self._backoff = Backoff(camera.connection.reconnect_initial_s, camera.connection.reconnect_max_s)
        self._sampler = FpsSampler(camera.detect.fps)
        self._file_clock: FileClock | None = None
        self._pace_origin: tuple[float, float] | None = None  # (wall_ts, monotonic) of the first frame played
        self._next_index = 0
        self._corrupt_logged_at = -CORRUPT_LOG_EVERY_S
        self.packet_tap = packet_tap  # the recorder: gets every packet, stamped with the same wall clock as the frames

    @property
    def is_live(self) -> bool:
        return self.camera.kind is SourceKind.LIVE

    def frames(self) -> Iterator[Frame]:
        failures = 0
        self.state.to(SourceState.CONNECTING, self.camera.safe_url)
        while not self.stop_event.is_set():
            try:
                container = open_container(self.camera)
            except SourceOpenError as error:
                failures += 1
                if not self._retry(str(error), error.retryable, failures):
                    return
                continue
            self.counters.connections += 1
            decoded_before = self.counters.decoded
            broken: Exception | None = None
            try:
                yield from self._play(container)
            except (av.FFmpegError, StreamStalled, OSError) as error:
                broken = error
            finally:
                container.close()
                if self.packet_tap is not None:
                    self.packet_tap.end("connection ended" if broken is None else self._broken_reason(broken))
            # a connection that delivered frames was not a failed attempt, however it ended
            failures = 0 if self.counters.decoded > decoded_before else failures + 1
            if broken is not None:
                if not self._retry(self._broken_reason(broken), self.is_live, failures):
                    return
                continue
            if self.stop_event.is_set():
                break
            if self.is_live:  # a live stream that ends cleanly has still gone away
                if not self._retry("stream ended", True, failures):
                    return
            elif (short := self._ended_early()) is not None:
                self.state.to(SourceState.FAILED, short)
                return
            elif not self.camera.loop:
                self.state.to(SourceState.STOPPED, "end of file")
                return
        if not self.state.state.is_final:
            self.state.to(SourceState.STOPPED, "stop requested")

    def _ended_early(self) -> str | None:
        """A file whose frames stop well before its declared duration lost its tail (copy cut short, disk full)."""
        counters = self.counters
        if counters.duration_s is None or counters.last_pts_s is None:
            return None
        expected_last = counters.duration_s - (counters.last_gap_s or 0.0)
        if counters.last_pts_s >= expected_last - max(1.0, 0.02 * counters.duration_s):
            return None
        return (
            f"file is corrupt or truncated (after {counters.last_pts_s:.2f}s): "
            f"frames end {expected_last - counters.last_pts_s:.1f}s before the declared {counters.duration_s:.1f}s"
        )

    def _broken_reason(self, error: Exception) -> str:
        detail = scrub(str(error))
        if self.is_live:
            return f"stream broke: {detail}"
        at = self.counters.last_pts_s
        where = f"after {at:.2f}s" if at is not None else "before the first frame"
        return f"file is corrupt or truncated ({where}): {detail}"

    def _retry(self, reason: str, retryable: bool, failures: int) -> bool:
        """Move to RECONNECTING and wait out the backoff, or to FAILED; True when the caller should try again."""
        limit = self.camera.connection.max_attempts
        if not retryable or (limit is not None and failures >= limit):
            self.state.to(SourceState.FAILED, reason)
            return False
        delay = self._backoff.next_delay()
        self.state.to(SourceState.RECONNECTING, f"{reason}; retry in {delay:.1f}s")
        if self.stop_event.wait(delay):
            self.state.to(SourceState.STOPPED, "stop requested")
            return False
        self.state.to(SourceState.CONNECTING, self.camera.safe_url)
        return True

    def _play(self, container: av.container.InputContainer) -> Iterator[Frame]:
        stream = container.streams.video[0]
        configure_decoder(stream, self.camera)
        time_base = stream.time_base
        stamp = _PacketStamper(self._clock_for(container), MediaTimeline(self.is_live, self.camera.record.max_gap_s))
        stall_after = self._stall_timeout(stream)
        started_at = self._now()
        first_pts: float | None = None
        last_frame_at = started_at
        if self.packet_tap is not None:
            self.packet_tap.begin(StreamTemplate.copy_of(stream))
        for packet in container.demux(stream):
            if self.stop_event.is_set():
                return
            if stamp.packet(packet, time_base, self._now(), self.packet_tap):
                self.counters.received += 1
            for av_frame in self._decode(packet):
                if av_frame.pts is None:
                    continue  # undecodable timing: never invent a PTS from a counter
                pts_s = float(av_frame.pts * time_base)
                if self._out_of_order(pts_s):
                    continue
                received_at = last_frame_at = self._now()
                if first_pts is None:
                    first_pts = pts_s
                    self._backoff.reset()
                if self.state.state is not SourceState.STREAMING:
                    self.state.to(SourceState.STREAMING, f"{stream.codec_context.name} {stream.width}x{stream.height}")
                self.counters.decoded += 1
                if self.counters.last_pts_s is not None and pts_s > self.counters.last_pts_s:
                    self.counters.last_gap_s = pts_s - self.counters.last_pts_s
                self.counters.last_pts_s = pts_s
                index, self._next_index = self._next_index, self._next_index + 1
                wall_ts = stamp.frame(av_frame.pts, pts_s, received_at)
                if not self._sampler.take(pts_s):
                    continue
                if self.camera.realtime:
                    self._pace(wall_ts)
                self.counters.converted += 1
                image = av_frame.to_ndarray(format="bgr24")
                yield Frame(self.name, index, pts_s, wall_ts, image)
                last_frame_at = self._now()  # time spent blocked on a full queue is the consumer's, not a stall
            if self._now() - last_frame_at > stall_after:
                raise StreamStalled(f"no frame for {stall_after:.1f}s")
        if isinstance(stamp.clock, _LoopingFileClock):
            stamp.clock.advance_loop(self.counters.last_pts_s, self.counters.last_gap_s)

    def _out_of_order(self, pts_s: float) -> bool:
        """A decoder fed damaged references can hand a frame out again or out of display order. A step back
        smaller than the timeline's tolerance cannot be a new clock (that is a jump the timeline handles), so the
        frame is dropped and counted with the corrupt packets: downstream, time only moves forward."""
        last = self.counters.last_pts_s
        if last is None or pts_s > last or last - pts_s > MediaTimeline.BACK_TOLERANCE_S:
            return False
        self.counters.corrupt_frames += 1
        return True

    def _decode(self, packet: av.Packet) -> list:
        """A packet the decoder calls invalid data is skipped and counted, as ffmpeg-based recorders conceal and go
        on: one bad packet must not end a file or reconnect a camera. The decoder resynchronises at the next
        keyframe by itself; the frames until then may show smearing, never a crash."""
        try:
            return packet.decode()
        except av.error.InvalidDataError as error:
            self.counters.corrupt_packets += 1
            now = time.monotonic()
            if now - self._corrupt_logged_at >= CORRUPT_LOG_EVERY_S:
                self._corrupt_logged_at = now
                log.warning(
                    "corrupt packet skipped",
                    extra={
                        "fields": {
                            "camera": self.name,
                            "corrupt_packets": self.counters.corrupt_packets,
                            "error": scrub(str(error)),
                        }
                    },
                )
            return []

    def _clock_for(self, container: av.container.InputContainer) -> Callable[[float, float], float]:
        if self.is_live:
            return LiveClock().wall_ts  # anchored anew on each connection
        stream = container.streams.video[0]
        if stream.duration is not None:
            self.counters.duration_s = float(stream.duration * stream.time_base)
        if self._file_clock is None:
            origin = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
            self._file_clock = _LoopingFileClock(recorded_start_ts(self.camera, container), origin)
        return self._file_clock

    def _stall_timeout(self, stream: VideoStream) -> float:
        conn = self.camera.connection
        rate = float(stream.average_rate or stream.guessed_rate or 0) or 1.0
        return max(conn.stall_timeout_min_s, conn.stall_frames / rate)

    def _pace(self, wall_ts: float) -> None:
        """Hand a frame out when its own clock says, counted from the first frame of the first loop: paced per
        connection, each loop ended early by its unsampled tail, and a replay with `start_time: now` ran ahead
        of the real clock (frames stamped in the future)."""
        if self._pace_origin is None:
            self._pace_origin = (wall_ts, self._now())
        first_wall, anchor = self._pace_origin
        delay = (wall_ts - first_wall) - (self._now() - anchor)
        if delay > 0:
            self.stop_event.wait(delay)


def configure_decoder(stream: VideoStream, camera: CameraConfig) -> None:
    """Decode as cheaply as the camera's use allows (figures: scripts/bench_decode.py, docs/figures.md#decode).

    One thread per decoder unless a file is read as fast as it decodes: FFmpeg's frame threads cost 9-13 % more
    CPU for the same frames, and a box of many cameras is bound by CPU, not by one decoder's latency. Where at
    most every second frame is sampled, frames that no other frame refers to (B-frames) are not decoded at all:
    25 % less decoding of a stream with two B-frames. A sample that falls on one is taken from the next
    decoded frame, at that frame's own time; so by default only live sources skip them, and a file gives the
    same samples, tracks and events on every run."""
    context = stream.codec_context
    if camera.kind is SourceKind.FILE and not camera.realtime:
        stream.thread_type = "AUTO"
    else:
        stream.thread_type = "NONE"
        context.thread_count = 1
    rate = float(stream.average_rate or stream.guessed_rate or 0)
    skip = camera.detect.skip_nonref_frames
    if skip is None:
        skip = camera.kind is SourceKind.LIVE
    if skip and rate >= 2 * camera.detect.fps:
        context.skip_frame = "NONREF"


class _LoopingFileClock(FileClock):
    """A FileClock that, when the file starts again, continues after the last frame of the previous loop."""

    def __call__(self, pts_s: float, received_at: float) -> float:
        return self.wall_ts(pts_s, received_at)

    def advance_loop(self, last_pts_s: float | None, last_gap_s: float | None) -> None:
        if last_pts_s is not None:
            self.loop_offset_s += (last_pts_s - self.origin_pts) + (last_gap_s or 0.0)


class _PacketStamper:
    """Wall-clock time is decided once per packet, in demux order, and a decoded frame takes the time of the
    packet that carried it; so frames and recorded packets agree, and the timeline's jump handling sees the
    stream in order even though a threaded decoder hands frames out late."""

    def __init__(self, clock: Callable[[float, float], float], timeline: MediaTimeline):
        self.clock = clock
        self.timeline = timeline
        self._walls = WallsByPts()

    def packet(self, packet: av.Packet, time_base, received_at: float, tap: PacketTap | None) -> bool:
        """Stamps a packet that carries a frame (True); the demuxer's empty flush packets are not frames."""
        if packet.pts is None or not packet.size:
            return False
        dts = packet.dts if packet.dts is not None else packet.pts
        placed, jump = self.timeline.place(float(packet.pts * time_base), float(dts * time_base), received_at)
        wall_ts = self.clock(placed, received_at)
        self._walls.remember(packet.pts, wall_ts)
        if tap is not None:
            tap.put(
                EncodedPacket(bytes(packet), packet.pts, dts, packet.duration or 0, packet.is_keyframe, wall_ts, jump)
            )
        return True

    def frame(self, pts: int, pts_s: float, received_at: float) -> float:
        wall_ts = self._walls.take(pts)
        if wall_ts is not None:
            return wall_ts
        return self.clock(pts_s + self.timeline.offset_s, received_at)
