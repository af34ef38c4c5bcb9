"""Retention: segments older than their camera's `retain_days` go, except those that overlap an event (± roll),
which stay for `event_retain_days`; then, over the disk budget, the oldest go first: the cache of playback cuts
(it is only a copy), plain segments, then event segments (their event clips stay), and event clips only as a last
resort. A cut of footage whose segment goes, goes with it. Files the index does not list (a segment still being
written) are never touched."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from streamer.config.recording import RecordConfig
from streamer.index import db, store
from streamer.index.rows import SegmentRow
from streamer.media.files import MediaFiles
from streamer.media.objects import ObjectStoreError
from streamer.record.cuts import CutCache
from streamer.storage import UnsafePath, resolve_inside

log = logging.getLogger("streamer.retention")
DAY_S = 86_400.0


@dataclass(frozen=True)
class RetentionReport:
    deleted_segments: int
    deleted_clips: int
    freed_bytes: int
    kept_bytes: int


@dataclass(frozen=True)
class _Clip:
    event_id: str
    camera: str
    path: str
    end_ts: float
    bytes: int


class Retention:
    def __init__(
        self,
        storage_dir: Path,
        cameras: dict[str, RecordConfig],
        max_bytes: int | None,
        cuts: CutCache | None = None,
        index: db.IndexTarget | None = None,
        files: MediaFiles | None = None,
    ):
        self.storage_dir = storage_dir
        self.index = index or storage_dir
        self.files = files or MediaFiles(storage_dir)  # with an object store, a file goes from both places
        # a site's shared index lists every host's footage: without an object store, which they all share, this
        # host weighs and deletes only the files on its own disk
        self.local_only = not db.is_sqlite(self.index) and not self.files.uploads
        self.cameras = cameras
        self.max_bytes = max_bytes
        self.cuts = cuts

    def run_once(self, now: float | None = None) -> RetentionReport:
        now = time.time() if now is None else now
        conn = db.connect(self.index)
        try:
            return self._run(conn, now)
        finally:
            conn.close()

    def _config(self, camera: str) -> RecordConfig:
        return self.cameras.get(camera) or RecordConfig()

    def _run(self, conn, now: float) -> RetentionReport:
        windows: dict[str, list[tuple[float, float]]] = {}
        for camera, start, end in store.event_windows(conn):
            cfg = self._config(camera)
            windows.setdefault(camera, []).append(
                (start - cfg.pre_roll_s, (end if end is not None else now) + cfg.post_roll_s)
            )
        plain, protected, doomed = [], [], []
        for segment in self._segments(conn):
            cfg = self._config(segment.camera)
            is_event = any(a < segment.end_ts and segment.start_ts < b for a, b in windows.get(segment.camera, []))
            limit_days = cfg.event_retain_days if is_event else cfg.retain_days
            if segment.end_ts < now - limit_days * DAY_S:
                doomed.append(segment)
            else:
                (protected if is_event else plain).append(segment)
        clips = self._clips(conn)
        old_clips = [c for c in clips if c.end_ts < now - self._config(c.camera).event_retain_days * DAY_S]
        clips = [c for c in clips if c not in old_clips]
        total = sum(s.bytes for s in plain + protected) + sum(c.bytes for c in clips)
        cut_bytes = self._cut_bytes()
        if self.max_bytes is not None and total + cut_bytes > self.max_bytes and self.cuts is not None:
            cut_bytes -= self.cuts.shrink_to(max(0, self.max_bytes - total))  # copies go before any footage
        total += cut_bytes
        if self.max_bytes is not None:
            for segment in plain + protected:  # each list is oldest first
                if total <= self.max_bytes:
                    break
                doomed.append(segment)
                total -= segment.bytes
                if segment in protected:
                    log.warning(
                        "disk budget: deleting a segment that overlaps an event (its event clip stays)",
                        extra={"fields": {"path": segment.path}},
                    )
            for clip in sorted(clips, key=lambda c: c.end_ts):
                if total <= self.max_bytes:
                    break
                log.warning("disk budget: deleting an event clip", extra={"fields": {"path": clip.path}})
                old_clips.append(clip)
                total -= clip.bytes
        freed = self._delete(conn, doomed, old_clips)
        if self.cuts is not None and doomed:  # a cut of footage that is gone goes too
            freed += self.cuts.drop_overlapping([(s.camera, s.start_ts, s.end_ts) for s in doomed])
        report = RetentionReport(len(doomed), len(old_clips), freed, total)
        if doomed or old_clips:
            log.info("retention", extra={"fields": {**report.__dict__}})
        return report

    def _cut_bytes(self) -> int:
        """The cache of cuts, pruned of what is past its age and size (before the budget is reckoned)."""
        if self.cuts is None:
            return 0
        self.cuts.prune()
        return self.cuts.usage()

    def _clips(self, conn) -> list[_Clip]:
        out = []
        for event_id, camera, clip, end_ts in store.event_clips(conn):
            try:
                size = resolve_inside(self.storage_dir, clip).stat().st_size
            except (UnsafePath, OSError):
                if self.local_only:
                    continue  # another host's clip
                size = 0  # in the object store only: not weighed (a HEAD per clip per pass would cost more)
            out.append(_Clip(event_id, camera, clip, end_ts or 0.0, size))
        return out

    def _delete(self, conn, segments: list[SegmentRow], clips: list[_Clip]) -> int:
        freed = 0
        with db.transaction(conn):
            for segment in segments:
                gone = self._remove(segment.path, segment.bytes)
                if gone is not None:
                    freed += gone
                    store.delete_segment(conn, segment.path)
            for clip in clips:
                gone = self._remove(clip.path, clip.bytes)
                if gone is not None:
                    freed += gone
                    store.set_event_clip(conn, clip.event_id, None)
        return freed

    def _segments(self, conn) -> list[SegmentRow]:
        found = store.segments_of(conn)
        if self.local_only:
            found = [s for s in found if _is_file(self.storage_dir, s.path)]
        return found

    def _remove(self, relative: str, stored_bytes: int) -> int | None:
        """Delete the file (and its object): the bytes freed, or None when it must stay listed (the object store
        could not be reached: the next pass tries again, and nothing is left without its row)."""
        try:
            freed = self.files.delete(relative)
        except UnsafePath as error:
            log.error("retention refused a path from the index: %s", error)
            return 0
        except ObjectStoreError as error:
            log.warning("retention: object not deleted, kept listed: %s", error, extra={"fields": {"path": relative}})
            return None
        return stored_bytes if self.files.uploads else freed


class RetentionLoop:
    """Runs retention every `every_s` on a thread of the supervisor; the first run happens at start."""

    def __init__(self, retention: Retention, every_s: float):
        self.retention = retention
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10.0)

    def _run(self) -> None:
        while True:
            try:
                self.retention.run_once()
            except Exception:  # the next pass may succeed (a locked index, a file in use)
                log.exception("retention pass failed")
            if self._stop.wait(self.every_s):
                return


def _is_file(storage_dir: Path, relative: str) -> bool:
    try:
        return resolve_inside(storage_dir, relative).is_file()
    except UnsafePath:
        return False
