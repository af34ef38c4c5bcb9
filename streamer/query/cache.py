"""Answers kept per question and time range, under `<storage>/query/cache/`. The key includes a fingerprint of
the index (events, findings, segments, tracks), so a new event or recording makes a fresh answer."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

log = logging.getLogger("streamer.query")


class ResultCache:
    def __init__(self, folder: Path, keep: int = 500):
        self.folder = folder
        self.keep = keep

    @staticmethod
    def key(*parts) -> str:
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]

    def get(self, key: str) -> dict | None:
        path = self.folder / f"{key}.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            log.warning("cached answer unreadable, asking again: %s", error)
            return None

    def put(self, key: str, doc: dict) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            partial = self.folder / f"{key}.json.part"
            partial.write_text(json.dumps(doc), encoding="utf-8")
            os.replace(partial, self.folder / f"{key}.json")
            self._trim()
        except OSError as error:
            log.warning("answer not cached: %s", error)

    def _trim(self) -> None:
        files = sorted(self.folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
        for stale in files[: max(0, len(files) - self.keep)]:
            stale.unlink(missing_ok=True)
