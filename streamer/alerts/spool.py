"""The write-ahead spool: every outgoing message is appended here (one JSON line, fsynced) before delivery.

A separate offset file records how far delivery has got, so a restarted process resumes where the last one
stopped. Delivery may repeat a message after a crash (at-least-once from here); the Redis side drops repeats
by message id, which makes the whole path exactly once. One process writes a spool at a time (flock).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("streamer.alerts")


class SpoolBusy(Exception):
    pass


@dataclass(frozen=True)
class SpoolRecord:
    id: str  # message id: delivered at most once per id
    streams: tuple[str, ...]  # XADD to each, in this order
    data: str  # the JSON payload, exactly as subscribers receive it
    observed_ts: float | None = None  # wall clock of the frame it came from, for latency figures

    def to_line(self) -> bytes:
        record = {"id": self.id, "streams": list(self.streams), "data": self.data, "observed_ts": self.observed_ts}
        return (json.dumps(record, separators=(",", ":")) + "\n").encode()

    @classmethod
    def from_line(cls, line: bytes) -> "SpoolRecord":
        record = json.loads(line)
        return cls(record["id"], tuple(record["streams"]), record["data"], record.get("observed_ts"))


class Spool:
    def __init__(self, path: Path):
        self.path = path
        self._offset_path = path.with_name(path.name + ".offset")
        self._rejected_path = path.with_name(path.stem + ".rejected.jsonl")
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "ab")
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise SpoolBusy(f"{path} is in use by another streamer process") from None
        self._drop_torn_tail()
        self._offset = self._read_offset()

    # -- writing (any thread) ---------------------------------------------------------------------------------
    def append(self, records: list[SpoolRecord]) -> None:
        """Durable when this returns: written and fsynced."""
        data = b"".join(record.to_line() for record in records)
        with self._lock:
            self._file.write(data)
            self._file.flush()
            os.fsync(self._file.fileno())

    # -- delivery (one thread) ----------------------------------------------------------------------------------
    def pending(self, limit: int) -> list[tuple[SpoolRecord, int]]:
        """Up to `limit` undelivered records, each with the offset just after it."""
        out: list[tuple[SpoolRecord, int]] = []
        with self._lock, open(self.path, "rb") as reader:
            reader.seek(self._offset)
            position = self._offset
            for line in reader:
                if not line.endswith(b"\n"):
                    break  # being written right now
                position += len(line)
                try:
                    out.append((SpoolRecord.from_line(line), position))
                except (ValueError, KeyError, TypeError) as error:
                    log.error(
                        "unreadable spool line skipped: %s",
                        error,
                        extra={"fields": {"spool": str(self.path), "offset": position}},
                    )
                    self._set_rejected(line)
                if len(out) >= limit:
                    break
            if not out and position > self._offset:  # only unreadable lines: step over them
                self._write_offset(position)
        return out

    def mark_delivered(self, offset: int) -> None:
        with self._lock:
            self._write_offset(offset)
            if self._offset >= self._size():  # everything delivered: start the file afresh
                self._file.truncate(0)
                os.fsync(self._file.fileno())
                self._write_offset(0)

    def reject(self, record: SpoolRecord, reason: str) -> None:
        """A message Redis refused for good (not a connection problem) is set aside, never silently dropped."""
        log.error(
            "message refused by redis; kept in %s: %s", self._rejected_path, reason, extra={"fields": {"id": record.id}}
        )
        self._set_rejected(record.to_line())

    def backlog_bytes(self) -> int:
        with self._lock:
            return max(0, self._size() - self._offset)

    def close(self) -> None:
        with self._lock:
            self._file.close()

    # -- internals ---------------------------------------------------------------------------------------------
    def _size(self) -> int:
        return os.fstat(self._file.fileno()).st_size

    def _set_rejected(self, line: bytes) -> None:
        with open(self._rejected_path, "ab") as rejected:
            rejected.write(line if line.endswith(b"\n") else line + b"\n")
            rejected.flush()
            os.fsync(rejected.fileno())

    def _drop_torn_tail(self) -> None:
        """A crash in the middle of a write leaves a line without its newline; later appends would corrupt it."""
        size = self._size()
        if size == 0:
            return
        with open(self.path, "rb") as reader:
            reader.seek(max(0, size - 65_536))
            tail = reader.read()
        if tail.endswith(b"\n"):
            return
        cut = tail.rfind(b"\n")
        keep = size - len(tail) + cut + 1 if cut >= 0 else max(0, size - len(tail))
        log.warning(
            "spool ended in a torn line; dropping its last %d bytes",
            size - keep,
            extra={"fields": {"spool": str(self.path)}},
        )
        self._file.truncate(keep)

    def _read_offset(self) -> int:
        try:
            offset = int(self._offset_path.read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            offset = 0
        return offset if 0 <= offset <= self._size() else 0  # a truncation finished but its offset was not written

    def _write_offset(self, offset: int) -> None:
        temporary = self._offset_path.with_name(self._offset_path.name + ".tmp")
        temporary.write_text(str(offset))
        os.replace(temporary, self._offset_path)
        self._offset = offset


@dataclass(frozen=True)
class Backlog:
    """What a spool file still holds for Redis, as another process reads it (no lock): the bytes and the complete
    lines past its delivered offset."""

    name: str
    pending_bytes: int
    entries: int


def backlogs(folder: Path) -> list[Backlog]:
    """Every spool file in the folder (the system page and the metrics)."""
    found = []
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        offset_path = path.with_name(path.name + ".offset")
        try:
            offset = int(offset_path.read_text().strip() or 0) if offset_path.exists() else 0
        except (OSError, ValueError):
            offset = 0
        try:
            with open(path, "rb") as reader:
                size = reader.seek(0, os.SEEK_END)
                reader.seek(min(offset, size))
                entries = sum(chunk.count(b"\n") for chunk in iter(lambda: reader.read(1 << 20), b""))
        except OSError:  # delivered and removed meanwhile
            continue
        found.append(Backlog(path.stem, max(0, size - offset), entries))
    return found
