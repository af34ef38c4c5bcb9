"""Which finished files still have to go to the object store: one line per file (its path in storage_dir),
appended by whichever process finished it (a camera worker's recorder, its clipper, its snapshot writer, the VLM
sampler) to the day's list in `<storage_dir>/uploads/`, and read in order by the host's uploader, which keeps how
far it got beside each list. A line is written with one O_APPEND write, whole or not at all; a crash loses no
file (the list is on disk) and at worst uploads one again."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

FOLDER = "uploads"
_SUFFIX = ".list"


def outbox_folder(storage_dir: Path) -> Path:
    return storage_dir / FOLDER


class UploadOutbox:
    """The writers' side: `add()` from any process, any thread."""

    def __init__(self, storage_dir: Path):
        self.folder = outbox_folder(storage_dir)

    def add(self, relative: str) -> None:
        if "\n" in relative:
            raise ValueError(f"a path with a line break cannot be listed: {relative!r}")
        self.folder.mkdir(parents=True, exist_ok=True)
        day = time.strftime("%Y%m%d", time.gmtime())
        descriptor = os.open(self.folder / f"{day}{_SUFFIX}", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, (relative + "\n").encode())
        finally:
            os.close(descriptor)


@dataclass(frozen=True)
class Pending:
    relative: str
    list_path: Path
    next_offset: int  # the list's offset once this one is uploaded


class OutboxReader:
    """The uploader's side: the files not uploaded yet, oldest list first, in the order they were finished."""

    def __init__(self, storage_dir: Path):
        self.folder = outbox_folder(storage_dir)

    def lists(self) -> list[Path]:
        return sorted(self.folder.glob(f"*{_SUFFIX}")) if self.folder.is_dir() else []

    def pending(self, limit: int = 1000) -> list[Pending]:
        found: list[Pending] = []
        for path in self.lists():
            offset = self.offset(path)
            with open(path, "rb") as lines:
                lines.seek(offset)
                for line in lines:
                    if not line.endswith(b"\n"):
                        break  # being written: its next pass
                    offset += len(line)
                    found.append(Pending(line.decode().rstrip("\n"), path, offset))
                    if len(found) >= limit:
                        return found
        return found

    def offset(self, path: Path) -> int:
        try:
            return int(_offset_path(path).read_text())
        except (OSError, ValueError):
            return 0

    def done(self, item: Pending) -> None:
        """`item` is in the object store: the list's offset moves past it (atomically, by rename)."""
        marker = _offset_path(item.list_path)
        partial = marker.with_name(marker.name + ".part")
        partial.write_text(str(item.next_offset))
        partial.replace(marker)

    def finished_lists(self, today: str | None = None) -> None:
        """A past day's list read to its end goes, with its offset (nobody appends to a past day's list)."""
        today = today or time.strftime("%Y%m%d", time.gmtime())
        for path in self.lists():
            if path.stem < today and self.offset(path) >= path.stat().st_size:
                path.unlink(missing_ok=True)
                _offset_path(path).unlink(missing_ok=True)

    def backlog(self) -> tuple[int, int]:
        """(files, bytes) listed and not uploaded yet (the bytes of those still on the local disk)."""
        items = self.pending(limit=1_000_000)
        size = 0
        for item in items:
            try:
                size += (self.folder.parent / item.relative).stat().st_size
            except OSError:
                pass
        return len(items), size


def _offset_path(path: Path) -> Path:
    return path.with_name(path.name + ".offset")
