"""One MP4 segment being written. Fragmented MP4 goes into `<name>.mp4.part` and is renamed when closed, so a
crash leaves a file whose finished fragments still play and whose name says it was never finished."""

from __future__ import annotations

import logging
import os
from fractions import Fraction
from pathlib import Path

import av

from streamer.index.rows import SegmentRow
from streamer.source.packets import EncodedPacket, StreamTemplate
from streamer.storage import segment_relpath

# Browsers and every player take these in MP4 as they are; anything else (MPEG-4 part 2 and MS-MPEG4 of old
# AVI files, MJPEG, VP8…) is re-encoded to H.264 so a clip plays wherever it is opened.
REMUX_CODECS = frozenset({"h264", "hevc", "av1"})
# A fragment a second at least, each on disk as soon as it is written (without flush_packets the muxer's buffer
# held several seconds, so a crash lost them all): a crash loses at most the last second.
FRAGMENTED = {
    "movflags": "frag_keyframe+empty_moov+default_base_moof",
    "frag_duration": "1000000",
    "flush_packets": "1",
}
PART_SUFFIX = ".part"

log = logging.getLogger("streamer.record")


def part_path(final: Path) -> Path:
    return final.with_name(final.name + PART_SUFFIX)


def recorded_seconds(path: Path) -> float | None:
    """How much video a closed segment holds (first to last frame, plus one frame), from its packets' PTS;
    None when it holds none or cannot be read."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            pts = [packet.pts for packet in container.demux(stream) if packet.pts is not None and packet.size]
            rate = stream.average_rate or stream.guessed_rate
            if not pts:
                return None
            return float((max(pts) - min(pts)) * stream.time_base) + (1 / float(rate) if rate else 0.0)
    except (av.FFmpegError, OSError, IndexError, ValueError):
        return None


def keeps_finished(final: Path, new_seconds: float) -> bool:
    """A segment's name is the wall clock of its first frame, so a re-run of the same file (same start_time)
    writes the same names: one interrupted must never replace a finished segment with a shorter one."""
    if not final.exists():
        return False
    existing = recorded_seconds(final)
    if existing is None or existing < new_seconds - 1e-3:
        return False
    log.info(
        "kept the finished segment of the same name, as long or longer than this one",
        extra={"fields": {"path": str(final), "kept_s": round(existing, 3), "dropped_s": round(new_seconds, 3)}},
    )
    return True


class SegmentFile:
    """Remuxes the camera's packets; the first packet is a keyframe, timestamps are rebased to its DTS."""

    transcoded = False

    def __init__(self, storage_dir: Path, camera: str, template: StreamTemplate, first: EncodedPacket):
        self.camera = camera
        self.template = template
        self.relpath = segment_relpath(camera, first.wall_ts)
        self.final = storage_dir / self.relpath
        self.part = part_path(self.final)
        self.part.parent.mkdir(parents=True, exist_ok=True)
        self.start_ts = first.wall_ts
        self.end_ts = first.wall_ts
        self.frames = 0
        self.last_dts: int | None = None
        self._frame_s: float | None = None  # the shortest DTS step seen: the frame interval
        self._origin = first.dts
        self._media_start_s = float((first.pts - first.dts) * template.time_base)
        self._container = av.open(str(self.part), mode="w", format="mp4", options=dict(FRAGMENTED))
        self._stream = self._open_stream()

    def _open_stream(self):
        return self._container.add_stream_from_template(self.template.stream, opaque=True)

    def write(self, packet: EncodedPacket) -> None:
        out = av.Packet(packet.data)
        out.pts, out.dts = packet.pts - self._origin, packet.dts - self._origin
        out.duration = packet.duration
        out.is_keyframe = packet.is_keyframe
        out.time_base = self.template.time_base
        out.stream = self._stream
        self._container.mux(out)
        if self.last_dts is not None and packet.dts > self.last_dts:
            self._frame_step(float((packet.dts - self.last_dts) * self.template.time_base))
        self._count(packet.wall_ts, packet.duration * self.template.time_base if packet.duration else None)
        self.last_dts = packet.dts

    def _frame_step(self, step_s: float) -> None:
        """The shortest step between consecutive frames is the frame interval."""
        self._frame_s = step_s if self._frame_s is None else min(self._frame_s, step_s)

    def _count(self, wall_ts: float, duration: Fraction | float | None) -> None:
        """The segment ends one frame after its last frame; a muxer that stretched the frame before a hole
        over the hole (MP4 sample durations) must not stretch the segment with it."""
        self.frames += 1
        nominal = self._frame_s or (1.0 / self.template.fps if self.template.fps else None)
        frame_s = float(duration) if duration else (nominal or 0.0)
        if nominal is not None:
            frame_s = min(frame_s, 2 * nominal)
        self.end_ts = max(self.end_ts, wall_ts + frame_s)

    def close(self) -> SegmentRow | None:
        """The row of the closed file; None when a finished segment of the same name was kept instead."""
        self._container.close()
        if keeps_finished(self.final, self.end_ts - self.start_ts):
            self.part.unlink(missing_ok=True)
            return None
        os.replace(self.part, self.final)
        return SegmentRow(
            camera=self.camera,
            start_ts=self.start_ts,
            end_ts=self.end_ts,
            path=self.relpath,
            codec=self._codec_name(),
            fps=self.template.fps,
            frames=self.frames,
            bytes=self.final.stat().st_size,
            media_start_s=self._media_start_s,
            transcoded=self.transcoded,
        )

    def abort(self) -> None:
        """Drop what was written (a disk that filled up mid-segment): the `.part` is repaired or removed later."""
        try:
            self._container.close()
        except (av.FFmpegError, OSError):
            pass

    def _codec_name(self) -> str:
        return self.template.codec


class TranscodedSegmentFile(SegmentFile):
    """For codecs MP4 players do not take: decoded frames (with their packets' wall times) encoded to H.264."""

    transcoded = True
    ENCODER = "libx264"

    def __init__(
        self, storage_dir: Path, camera: str, template: StreamTemplate, first_frame: av.VideoFrame, wall_ts: float
    ):
        self._first_pts = first_frame.pts
        self._last_wall = wall_ts
        fake_first = EncodedPacket(b"", first_frame.pts, first_frame.pts, 0, True, wall_ts)
        super().__init__(storage_dir, camera, template, fake_first)
        self._media_start_s = 0.0

    def _open_stream(self):
        rate = Fraction(self.template.fps).limit_denominator(1001) if self.template.fps else Fraction(25)
        stream = self._container.add_stream(self.ENCODER, rate=rate)
        stream.width, stream.height, stream.pix_fmt = self.template.width, self.template.height, "yuv420p"
        stream.time_base = stream.codec_context.time_base = self.template.time_base
        stream.options = {"preset": "veryfast", "crf": "23", "bf": "0"}
        return stream

    def write_frame(self, frame: av.VideoFrame, wall_ts: float) -> None:
        frame = frame.reformat(format="yuv420p")
        frame.pts = frame.pts - self._first_pts
        frame.time_base = self.template.time_base
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        if self.frames and wall_ts > self._last_wall:
            self._frame_step(wall_ts - self._last_wall)
        self._last_wall = wall_ts
        self._count(wall_ts, None)

    def close(self) -> SegmentRow | None:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        return super().close()

    def _codec_name(self) -> str:
        return "h264"
