"""A hit's clip and snapshot, made on demand and fetched by the hit's id only.

Each listed hit leaves a small record (`query/media/<id>.json`: camera, span, the event's snapshot); the clip is
cut from the recordings by the recordings' exporter the first time it is asked for, the snapshot is the event's
own JPEG or, for hits without one, the recorded frame at the hit's start. An id is 16 hex digits; anything else
is unknown, and every path is resolved inside the storage folder."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import av
import cv2
from sqlalchemy import Connection

from streamer.annotate import highlight
from streamer.media.files import MediaFiles, NotStored
from streamer.query.hits import Hit
from streamer.record.cuts import CutCache
from streamer.record.export import NoRecording, export_clip
from streamer.record.sample import sample_recording
from streamer.storage import UnsafePath, relative_to_storage, resolve_inside

_ID = re.compile(r"^[0-9a-f]{16}$")


class UnknownMedia(LookupError):
    """No such hit id (or not a valid id at all)."""


class MediaUnavailable(RuntimeError):
    """The hit is known but its file cannot be made (no recording left, say)."""


class HitMedia:
    def __init__(self, files: MediaFiles, connect: Callable[[], Connection], pad_s: float, cuts: CutCache):
        self.files = files  # the recordings: local copies, else the object store
        self.storage_dir = files.storage_dir
        self._connect = connect
        self.pad_s = pad_s
        self.cuts = cuts  # clips and snapshots are made once, kept in its bounded cache, cut a few at a time

    def register(self, hit: Hit) -> None:
        record = {
            "camera": hit.camera,
            "start_ts": hit.start_ts,
            "end_ts": hit.end_ts or hit.start_ts,
            "snapshot": hit.snapshot,
            "bbox": hit.bbox,
            "label": hit.label,
            "track_id": hit.track_id,
        }
        path = self._path("media", hit.id, ".json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record), encoding="utf-8")

    def camera_of(self, hit_id: str) -> str:
        """The camera a hit's files show (who may see them is decided by it)."""
        return str(self._record(hit_id)["camera"])

    def clip(self, hit_id: str) -> Path:
        return self._made_once(self._record(hit_id), self._path("clips", hit_id, ".mp4"), self._export)

    def snapshot(self, hit_id: str) -> Path:
        record = self._record(hit_id)
        if record.get("snapshot"):
            try:
                return self.files.local_copy(record["snapshot"])  # the event's own, downloaded once if need be
            except UnsafePath as error:
                raise MediaUnavailable(f"snapshot refused: {error}") from None
            except NotStored:
                pass  # deleted: a frame of the recording instead
        return self._made_once(record, self._path("snapshots", hit_id, ".jpg"), self._frame_at_start)

    def _made_once(self, record: dict, target: Path, make: Callable[[dict, Path], None]) -> Path:
        return self.cuts.made(target, lambda partial: make(record, partial))

    def relative(self, path: Path) -> str:
        return relative_to_storage(self.storage_dir, path)

    def _record(self, hit_id: str) -> dict:
        if not isinstance(hit_id, str) or not _ID.match(hit_id):
            raise UnknownMedia("not a hit id")
        path = self._path("media", hit_id, ".json")
        if not path.exists():
            raise UnknownMedia(f"no hit {hit_id}")
        return json.loads(path.read_text(encoding="utf-8"))

    def _path(self, kind: str, hit_id: str, suffix: str) -> Path:
        return resolve_inside(self.storage_dir, f"query/{kind}/{hit_id}{suffix}")

    def _export(self, record: dict, target: Path) -> None:
        conn = self._connect()
        try:
            export_clip(
                self.files,
                conn,
                record["camera"],
                record["start_ts"] - self.pad_s,
                record["end_ts"] + self.pad_s,
                target,
            )
        except (NoRecording, av.FFmpegError, OSError, UnsafePath) as error:
            raise MediaUnavailable(f"clip not exported: {error}") from None
        finally:
            conn.close()

    def _frame_at_start(self, record: dict, target: Path) -> None:
        conn = self._connect()
        try:
            frames = sample_recording(
                self.files, conn, record["camera"], record["start_ts"], record["start_ts"] + 1.0, 4.0
            )
        except (av.FFmpegError, OSError, UnsafePath) as error:
            raise MediaUnavailable(f"snapshot not made: {error}") from None
        finally:
            conn.close()
        if not frames:
            raise MediaUnavailable("snapshot not made: nothing recorded at the hit's start")
        image = frames[0].image
        if record.get("bbox"):
            track = f" #{record['track_id']}" if record.get("track_id") is not None else ""
            image = highlight(image, tuple(record["bbox"]), f"{record['label']}{track}")
        target.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(target), image):
            raise MediaUnavailable(f"snapshot not written to {target}")
