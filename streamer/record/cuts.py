"""Clips cut on demand from the recordings (the console's timeline playing from a time, a hit's clip and its
snapshot), kept for the next viewer as a bounded cache under `<storage_dir>/query/`:

- at most `storage.cuts_max_size` bytes, the least recently played deleted first (a cut asked for in the last
  `IN_USE_S` stays: its answer may still be opening it), and nothing unplayed for `storage.cuts_max_age_h`;
  the bytes count in `storage.max_size`, where retention deletes cuts before anything else (`shrink_to`), and a
  cut goes when retention deletes a segment it was cut from (`drop_overlapping`);
- a playback cut's start and length are snapped to whole seconds, so the same click from many viewers is one cut;
- each file is made once, by the first request (the others wait for it), and at most `PARALLEL` are being cut at
  a time; a request that cannot start within `WAIT_S` is told so (`CutsBusy`) instead of queueing for ever."""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from streamer.config.recording import StorageConfig

log = logging.getLogger("streamer.cuts")

FOLDERS = ("query/recordings", "query/clips", "query/snapshots")
PLAYBACK = "query/recordings"
PARALLEL = 2
WAIT_S = 30.0
SNAP_S = 1.0
PARTIAL_AGE_S = 3600.0  # a half-made file this old was left by a crash
IN_USE_S = 2.0  # between a cut handed to its answer and the answer opening it
_PAD_MARGIN_S = 60.0  # a hit's clip reaches up to query.clip_pad_s (at most 60 s) past its span


class CutsBusy(RuntimeError):
    """Every cutting slot stayed taken for WAIT_S."""


def snapped(at: float, seconds: float) -> tuple[float, float]:
    """A playback request's start and length as cut: the start down to a whole second, the length up to one."""
    start = math.floor(at / SNAP_S) * SNAP_S
    return start, max(SNAP_S, math.ceil(seconds / SNAP_S) * SNAP_S)


def playback_relpath(camera: str, start: float, seconds: float) -> str:
    return f"{PLAYBACK}/{camera}-{round(start * 1000)}-{round(seconds * 1000)}.mp4"


class CutCache:
    def __init__(self, storage_dir: Path, max_bytes: int, max_age_s: float, parallel: int = PARALLEL):
        self.storage_dir = storage_dir
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self._slots = threading.BoundedSemaphore(parallel)
        self._guard = threading.Lock()
        self._locks: dict[Path, tuple[threading.Lock, int]] = {}

    @classmethod
    def for_storage(cls, storage_dir: Path, storage: StorageConfig) -> "CutCache":
        return cls(storage_dir, int(storage.cuts_max_size), storage.cuts_max_age_h * 3600)

    def made(self, target: Path, make: Callable[[Path], None]) -> Path:
        """`target`, made by `make(partial)` unless it exists; marked as just played either way."""
        with self._locked(target):
            if target.exists():
                _touch(target)
                return target
            if not self._slots.acquire(timeout=WAIT_S):
                raise CutsBusy(f"{PARALLEL} clips are being cut and none finished within {WAIT_S:g} s; try again")
            partial = target.with_name(f"{target.stem}.part{target.suffix}")
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                make(partial)
                partial.replace(target)  # a half-written file is never served
            finally:
                partial.unlink(missing_ok=True)
                self._slots.release()
        self.prune()
        return target

    def usage(self) -> int:
        return sum(size for _, size, _ in self._files())

    def prune(self, now: float | None = None) -> int:
        """Delete what is past its age, then the least recently played until the cache fits; the bytes freed."""
        return self._trim(self.max_bytes, now)

    def shrink_to(self, max_bytes: int) -> int:
        """Retention over the disk budget: the cache gives way first."""
        return self._trim(max(0, max_bytes), None)

    def drop_overlapping(self, gone: list[tuple[str, float, float]]) -> int:
        """Cuts that show any of the footage in `gone` ((camera, start, end) of deleted segments). The bytes freed."""
        by_camera: dict[str, list[tuple[float, float]]] = {}
        for camera, start, end in gone:
            by_camera.setdefault(camera, []).append((start, end))
        freed = 0
        for path, size, _ in self._files() if by_camera else ():
            span = self._span_of(path)
            spans = by_camera.get(span[0], ()) if span is not None else ()
            if any(start < span[2] and span[1] < end for start, end in spans):
                freed += _unlink(path, size)
        return freed

    def _trim(self, max_bytes: int, now: float | None) -> int:
        now = time.time() if now is None else now
        files = sorted(self._files(), key=lambda item: item[2])  # least recently played first
        total, freed = sum(size for _, size, _ in files), 0
        for path, size, used in files:
            partial = ".part." in path.name
            stale = now - used > (PARTIAL_AGE_S if partial else self.max_age_s)
            if stale or (total > max_bytes and not partial and now - used > IN_USE_S):
                freed += _unlink(path, size)
                total -= size
        if freed:
            log.info("playback cuts deleted", extra={"fields": {"freed_bytes": freed, "kept_bytes": total}})
        return freed

    def _files(self) -> Iterator[tuple[Path, int, float]]:
        for folder in FOLDERS:
            root = self.storage_dir / folder
            if not root.is_dir():
                continue
            for path in root.iterdir():
                try:
                    stat = path.stat()
                except OSError:
                    continue  # deleted meanwhile
                if path.is_file():
                    yield path, stat.st_size, max(stat.st_atime, stat.st_mtime)  # last played, or made

    def _span_of(self, path: Path) -> tuple[str, float, float] | None:
        """(camera, start, end) of the footage a cached file shows."""
        if path.parent.name == "recordings":
            try:
                camera, start_ms, length_ms = path.stem.removesuffix(".part").rsplit("-", 2)
                return camera, int(start_ms) / 1000, (int(start_ms) + int(length_ms)) / 1000
            except ValueError:
                return None
        record = self.storage_dir / "query" / "media" / f"{path.stem.removesuffix('.part')}.json"
        try:
            hit = json.loads(record.read_text(encoding="utf-8"))
            return str(hit["camera"]), float(hit["start_ts"]) - _PAD_MARGIN_S, float(hit["end_ts"]) + _PAD_MARGIN_S
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @contextmanager
    def _locked(self, target: Path) -> Iterator[None]:
        """One maker per file: a second request for it waits and then finds it made."""
        with self._guard:
            lock, users = self._locks.get(target, (threading.Lock(), 0))
            self._locks[target] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[target]
                if users == 1:
                    del self._locks[target]
                else:
                    self._locks[target] = (lock, users - 1)


def _touch(path: Path) -> None:
    """Mark a cut as just played: its access time, set explicitly (mounts with noatime or relatime do not on a
    read); its modification time stays when it was made."""
    try:
        os.utime(path, ns=(time.time_ns(), path.stat().st_mtime_ns))
    except OSError:
        pass


def _unlink(path: Path, size: int) -> int:
    try:
        path.unlink()
        return size
    except FileNotFoundError:
        return 0
