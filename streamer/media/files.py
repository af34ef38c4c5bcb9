"""Reading a stored file wherever it is now: the local copy while there is one (written first, kept `local_keep_h`
after its upload, or for good without an object store), else the object in the store, as a URL that PyAV reads
with range requests, as ranged bytes for an HTTP answer, or as a local copy downloaded once into a cache."""

from __future__ import annotations

from pathlib import Path

from streamer.config.recording import StorageConfig
from streamer.media.objects import ObjectStore, ObjectStoreError
from streamer.media.outbox import UploadOutbox
from streamer.storage import resolve_inside

CACHE = "cache/objects"  # downloads, under storage_dir


class NotStored(FileNotFoundError):
    """Neither on the local disk nor in the object store."""


class MediaFiles:
    def __init__(self, storage_dir: Path, objects: ObjectStore | None = None):
        self.storage_dir = storage_dir
        self.objects = objects
        self.outbox = UploadOutbox(storage_dir) if objects is not None else None

    @classmethod
    def for_storage(cls, storage_dir: Path, storage: StorageConfig | None) -> "MediaFiles":
        return cls(storage_dir, ObjectStore(storage) if storage is not None and storage.url else None)

    @property
    def uploads(self) -> bool:
        return self.objects is not None

    def finished(self, relative: str) -> None:
        """A file written in full under storage_dir: with an object store, it goes on the upload list."""
        if self.outbox is not None:
            self.outbox.add(relative)

    def publish_now(self, relatives: list[str]) -> None:
        """Put these files in the object store before going on (a VLM job's frames, read by a worker on any
        host); when the store cannot be reached they go on the upload list instead, and the worker waits."""
        if self.objects is None:
            return
        for number, relative in enumerate(relatives):
            try:
                self.objects.put_file(relative, self.local(relative))
            except ObjectStoreError:
                for rest in relatives[number:]:
                    self.finished(rest)
                return

    def local(self, relative: str) -> Path:
        """Where the file is (or would be) on the local disk; UnsafePath for a path that leaves storage_dir."""
        return resolve_inside(self.storage_dir, relative)

    def source(self, relative: str) -> str:
        """What PyAV opens: the local path, or the object's presigned URL (read with range requests)."""
        path = self.local(relative)
        if path.exists() or self.objects is None:
            return str(path)
        return self.objects.presigned_url(relative)

    def size(self, relative: str) -> int | None:
        path = self.local(relative)
        if path.exists():
            return path.stat().st_size
        return self.objects.size(relative) if self.objects is not None else None

    def local_copy(self, relative: str) -> Path:
        """A file on this disk: the local one, else downloaded once into the cache (a VLM worker's frames)."""
        path = self.local(relative)
        if path.exists() or self.objects is None:
            return path  # (without a store, a missing file is its reader's to report)
        cached = resolve_inside(self.storage_dir, f"{CACHE}/{relative}")
        if not cached.exists():
            try:
                self.objects.download(relative, cached)
            except ObjectStoreError as error:
                raise NotStored(f"{relative}: {error}") from error
        return cached

    def delete(self, relative: str) -> int:
        """Delete both copies; the bytes freed on the local disk (the object's go from the store)."""
        path = self.local(relative)
        freed = 0
        try:
            freed = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            pass
        if self.objects is not None:
            self.objects.delete(relative)
        return freed


def as_files(storage: Path | MediaFiles) -> MediaFiles:
    """A storage folder alone is its local files (no object store)."""
    return storage if isinstance(storage, MediaFiles) else MediaFiles(storage)
