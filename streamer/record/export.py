"""Clip export across segment boundaries.

Remux (default): packets are copied from the last keyframe at or before `start`; their timestamps are shifted
so that `start` is zero, and the MP4 muxer writes an edit list that hides the frames before it. Players that
honour edit lists (browsers, VLC, ffmpeg, PyAV) start at `start`; a player that ignores them shows at most one
GOP earlier. With `annotate`, frames are decoded, boxes and track ids from the per-second track summary are
drawn, and the clip is re-encoded (by the same writer as `--save-annotated`) from the first frame at or after
`start`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import supervision as sv
from sqlalchemy import Connection

from streamer.config.cameras import ZoneConfig
from streamer.frame import Frame, TrackedFrame
from streamer.index import store
from streamer.index.rows import SegmentRow, TrackSecond
from streamer.media.files import MediaFiles, as_files
from streamer.record.annotated_writer import AnnotatedVideoWriter

CLIP_OPTIONS = {"movflags": "+faststart"}  # moov first: a browser starts playing before the whole file arrives


class NoRecording(LookupError):
    """Nothing recorded for the camera in the requested range."""


@dataclass(frozen=True)
class ExportedClip:
    path: Path
    camera: str
    requested: tuple[float, float]
    first_ts: float  # wall clock of the first frame written (before the edit list trims to `start`)
    end_ts: float  # wall clock of the last frame written
    packets: int
    segments: int
    annotated: bool


@dataclass(frozen=True)
class _Timed:
    packet: av.Packet
    pts_ts: float  # wall clock of the packet's presentation time
    dts_ts: float
    time_base: Fraction


def export_clip(
    storage: Path | MediaFiles,
    conn: Connection,
    camera: str,
    start_ts: float,
    end_ts: float,
    out: Path,
    annotate: bool = False,
    zones: dict[str, ZoneConfig] | None = None,
) -> ExportedClip:
    if end_ts <= start_ts:
        raise ValueError("the end of the range must be after its start")
    segments = store.segments_overlapping(conn, camera, start_ts, end_ts)
    if not segments:
        raise NoRecording(_nothing_recorded(conn, camera, start_ts, end_ts))
    out.parent.mkdir(parents=True, exist_ok=True)
    packets = _packets_from_keyframe(as_files(storage), segments, start_ts, end_ts)
    if annotate:
        tracks = store.track_seconds(conn, camera, start_ts, end_ts)
        written, first, last = _write_annotated(packets, out, camera, start_ts, end_ts, tracks, zones or {})
    else:
        written, first, last = _write_remuxed(packets, out, start_ts)
    if not written:
        out.unlink(missing_ok=True)
        raise NoRecording(_nothing_recorded(conn, camera, start_ts, end_ts))
    return ExportedClip(out, camera, (start_ts, end_ts), first, last, written, len(segments), annotate)


def _packets_from_keyframe(
    files: MediaFiles, segments: list[SegmentRow], start_ts: float, end_ts: float
) -> Iterator[tuple[_Timed, av.video.stream.VideoStream]]:
    first = True
    for segment in segments:
        with av.open(files.source(segment.path)) as container:  # the local file, or the object (ranged reads)
            stream = container.streams.video[0]
            timed = [t for t in (_timed(p, segment, stream) for p in container.demux(stream)) if t is not None]
            if first:
                starts = [i for i, t in enumerate(timed) if t.packet.is_keyframe and t.pts_ts <= start_ts + 1e-3]
                timed = timed[starts[-1] :] if starts else timed
                first = False
            for item in timed:
                if item.dts_ts >= end_ts:
                    yield None, stream  # the decoder may still hold frames: flush before the file closes
                    return
                yield item, stream
            yield None, stream


def _timed(packet: av.Packet, segment: SegmentRow, stream) -> _Timed | None:
    if packet.pts is None or packet.dts is None or not packet.size:
        return None
    tb = stream.time_base
    origin = segment.start_ts - segment.media_start_s
    return _Timed(packet, origin + float(packet.pts * tb), origin + float(packet.dts * tb), tb)


def _write_remuxed(packets, out: Path, start_ts: float) -> tuple[int, float, float]:
    written, first_ts, last_ts, last_dts = 0, 0.0, 0.0, None
    with av.open(str(out), mode="w", format="mp4", options=dict(CLIP_OPTIONS)) as container:
        target = None
        for item, stream in packets:
            if item is None:
                continue
            if target is None:
                target = container.add_stream_from_template(stream, opaque=True)
                first_ts = item.pts_ts
            elif (stream.codec_context.width, stream.codec_context.height) != (
                target.codec_context.width,
                target.codec_context.height,
            ):
                break  # the camera changed resolution between segments: the clip ends where it did
            tb = item.time_base
            packet = item.packet
            pts, dts = round((item.pts_ts - start_ts) / tb), round((item.dts_ts - start_ts) / tb)
            if last_dts is not None and dts <= last_dts:
                dts = last_dts + 1
            packet.pts, packet.dts, packet.time_base = max(pts, dts), dts, tb
            packet.stream = target
            container.mux(packet)
            written, last_dts, last_ts = written + 1, dts, max(last_ts, item.pts_ts)
    return written, first_ts, last_ts


def _write_annotated(
    packets,
    out: Path,
    camera: str,
    start_ts: float,
    end_ts: float,
    tracks: list[TrackSecond],
    zones: dict[str, ZoneConfig],
) -> tuple[int, float, float]:
    by_second: dict[int, list[TrackSecond]] = {}
    for row in tracks:
        by_second.setdefault(row.second, []).append(row)
    writer: AnnotatedVideoWriter | None = None
    first_ts = last_ts = origin = 0.0
    for item, stream in packets:
        if item is not None:
            origin = item.pts_ts - float(item.packet.pts * item.time_base)
        for frame in stream.codec_context.decode(item.packet if item is not None else None):
            wall = origin + float(frame.pts * stream.time_base)
            if not start_ts <= wall < end_ts:
                continue
            if writer is None:
                rate = stream.average_rate or stream.guessed_rate or 25
                writer, first_ts = AnnotatedVideoWriter(out, zones, float(rate)), wall
            image = frame.to_ndarray(format="bgr24")
            writer.write(
                TrackedFrame(Frame(camera, 0, wall - start_ts, wall, image), _detections(by_second.get(int(wall), [])))
            )
            last_ts = wall
    if writer is None:
        return 0, 0.0, 0.0
    writer.close()
    return writer.frames_written, first_ts, last_ts


def _detections(rows: list[TrackSecond]) -> sv.Detections:
    """Boxes move once a second: the summary keeps one box per track and second."""
    if not rows:
        detections = sv.Detections.empty()
        detections.tracker_id = np.array([], dtype=int)
        return detections
    return sv.Detections(
        xyxy=np.array([row.box for row in rows], dtype=np.float32),
        confidence=np.array([row.confidence for row in rows], dtype=np.float32),
        class_id=np.zeros(len(rows), dtype=int),
        tracker_id=np.array([row.track_id for row in rows]),
        data={"class_name": np.array([row.label for row in rows])},
    )


def _nothing_recorded(conn: Connection, camera: str, start_ts: float, end_ts: float) -> str:
    from streamer.core.timefmt import iso_time

    kept = store.segments_of(conn, camera)
    what = f"no recording of camera '{camera}' between {iso_time(start_ts)} and {iso_time(end_ts)}"
    if not kept:
        return what + "; nothing is recorded for this camera"
    return what + f"; its recordings span {iso_time(kept[0].start_ts)} to {iso_time(kept[-1].end_ts)}"
