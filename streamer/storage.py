"""Paths inside the storage folder. Every stored path is relative to it, and every path that comes from a
request or a database row is resolved here, so nothing can read or delete outside it."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath


class UnsafePath(ValueError):
    """A relative path that would leave the storage folder (`..`, absolute, or a symlink pointing out)."""


def resolve_inside(root: Path, relative: str) -> Path:
    """The absolute path of `relative` under `root`, or UnsafePath. Symlinks are followed before the check."""
    if not relative or "\x00" in relative:
        raise UnsafePath(f"empty or invalid path {relative!r}")
    pure = PurePosixPath(relative)
    if pure.is_absolute() or relative.startswith(("\\", "~")) or ":" in pure.parts[0]:
        raise UnsafePath(f"absolute path refused: {relative!r}")
    if ".." in pure.parts:
        raise UnsafePath(f"path leaves the storage folder: {relative!r}")
    base = root.resolve()
    resolved = (base / pure).resolve()
    if resolved != base and base not in resolved.parents:
        raise UnsafePath(f"path leaves the storage folder through a link: {relative!r}")
    return resolved


def relative_to_storage(root: Path, path: Path) -> str:
    return PurePosixPath(os.path.relpath(path.resolve(), root.resolve())).as_posix()


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def segment_relpath(camera: str, start_ts: float) -> str:
    """recordings/<camera>/<UTC date>/<UTC hour>/<UTC start with ms>.mp4: sortable, never ambiguous at DST changes,
    and the start time can be read back from the name when a torn file is repaired."""
    start = _utc(start_ts)
    stamp = start.strftime("%Y%m%dT%H%M%S") + f".{start.microsecond // 1000:03d}Z"
    return f"recordings/{camera}/{start:%Y-%m-%d}/{start:%H}/{stamp}.mp4"


def start_from_segment_name(name: str) -> float | None:
    stem = name.removesuffix(".part").removesuffix(".mp4")
    try:
        return datetime.strptime(stem, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def live_relpath(camera: str, suffix: str) -> str:
    """The console's live picture (.jpg) and figures (.json) of a camera."""
    return f"live/{camera}{suffix}"


def event_clip_relpath(camera: str, event_id: str, start_ts: float) -> str:
    return f"clips/{camera}/{_utc(start_ts):%Y-%m-%d}/{event_id}.mp4"


def snapshot_relpath(camera: str, event_id: str, start_ts: float) -> str:
    """An event's snapshot, derived from the event alone, so every message can name it."""
    return f"snapshots/{camera}/{_utc(start_ts):%Y-%m-%d}/{event_id}.jpg"


def vlm_frames_relpath(camera: str, job_id: str, start_ts: float) -> str:
    """The folder of a VLM job's frames."""
    return f"vlm/{camera}/{_utc(start_ts):%Y-%m-%d}/{job_id}"
