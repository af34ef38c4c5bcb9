"""After a crash: a segment left as `.part` is remuxed up to its last whole fragment and indexed, or removed when
nothing in it plays; a finished `.mp4` the index does not know (killed between rename and insert) is indexed."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

import av
from sqlalchemy import Connection

from streamer.index import store
from streamer.index.rows import SegmentRow
from streamer.record.segment import PART_SUFFIX, keeps_finished
from streamer.storage import relative_to_storage, start_from_segment_name

log = logging.getLogger("streamer.recorder")


@dataclass(frozen=True)
class RepairResult:
    path: str
    outcome: str  # repaired | removed | indexed | dropped (…)
    frames: int = 0


def repair_camera(storage_dir: Path, camera: str, conn: Connection) -> list[RepairResult]:
    folder = storage_dir / "recordings" / camera
    if not folder.is_dir():
        return []
    known = {row.path for row in store.segments_of(conn, camera)}
    results = []
    for path in sorted(folder.rglob("*")):
        if path.name.endswith(".mp4" + PART_SUFFIX):
            results.append(_repair_part(storage_dir, camera, path, conn))
        elif path.suffix == ".mp4" and relative_to_storage(storage_dir, path) not in known:
            row = _describe(storage_dir, camera, path)
            if row is not None:
                store.insert_segment(conn, row)
                results.append(RepairResult(row.path, "indexed", row.frames))
    for result in results:
        log.warning(
            "recording %s after an unclean stop",
            result.outcome,
            extra={"fields": {"camera": camera, "path": result.path, "frames": result.frames}},
        )
    return results


def _repair_part(storage_dir: Path, camera: str, part: Path, conn: Connection) -> RepairResult:
    final = part.with_name(part.name.removesuffix(PART_SUFFIX))
    relpath = relative_to_storage(storage_dir, final)
    repaired = part.with_name(part.name + ".repaired.mp4")  # never written over a finished file of the same name
    frames = _remux_playable(part, repaired)
    part.unlink(missing_ok=True)
    row = _describe(storage_dir, camera, repaired, named=final) if frames else None
    if row is None:
        repaired.unlink(missing_ok=True)
        return RepairResult(relpath, "removed")
    if keeps_finished(final, row.end_ts - row.start_ts):
        repaired.unlink()
        return RepairResult(relpath, "dropped (a finished segment of the same name is as long)", row.frames)
    os.replace(repaired, final)
    row = replace(row, path=relpath, bytes=os.path.getsize(final))
    store.insert_segment(conn, row)
    return RepairResult(relpath, "repaired", row.frames)


def _remux_playable(source: Path, target: Path) -> int:
    """Copy the packets that read back whole, and keep the copy only if every one of them decodes."""
    written = 0
    try:
        with av.open(str(source)) as src, av.open(str(target), mode="w", format="mp4") as out:
            stream = src.streams.video[0]
            copy = out.add_stream_from_template(stream, opaque=True)
            try:
                for packet in src.demux(stream):
                    if packet.dts is None or packet.is_corrupt or not packet.size:
                        continue
                    packet.stream = copy
                    out.mux(packet)
                    written += 1
            except av.FFmpegError:
                pass  # the torn tail
    except (av.FFmpegError, OSError, IndexError, ValueError):
        target.unlink(missing_ok=True)
        return 0
    return written if written and _decodes(target) else 0


def _decodes(path: Path) -> bool:
    try:
        with av.open(str(path)) as container:
            for _ in container.decode(video=0):
                pass
        return True
    except (av.FFmpegError, OSError):
        return False


def _describe(storage_dir: Path, camera: str, path: Path, named: Path | None = None) -> SegmentRow | None:
    """A segment row from the file itself: start from its name (the wall clock it was opened at; `named`: the
    name it is to have), length from PTS."""
    start_ts = start_from_segment_name((named or path).name)
    if start_ts is None:
        return None
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            pts = [packet.pts for packet in container.demux(stream) if packet.pts is not None and packet.size]
            if not pts:
                return None
            tb = stream.time_base
            rate = stream.average_rate or stream.guessed_rate
            frame_s = 1 / float(rate) if rate else 0.0
            first, last = float(min(pts) * tb), float(max(pts) * tb)
            return SegmentRow(
                camera,
                start_ts,
                start_ts + (last - first) + frame_s,
                relative_to_storage(storage_dir, path),
                stream.codec_context.name,
                float(rate) if rate else None,
                len(pts),
                os.path.getsize(path),
                first,
            )
    except (av.FFmpegError, OSError, IndexError):
        return None
