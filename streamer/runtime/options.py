"""What every camera worker is given, and how it ends: light to import, so the supervisor can name them without
loading what the worker itself loads (tracking, the engine client)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from streamer.config.recording import StorageConfig
from streamer.config.vlm import VlmConfig

EXIT_OK = 0
EXIT_CRASHED = 1  # a bug: the supervisor restarts the worker
EXIT_CAMERA_FAILED = 3  # the camera cannot work as configured (model, file): restarting the process will not help


@dataclass(frozen=True)
class WorkerOptions:
    models_dir: Path
    storage_dir: Path = Path("data")
    min_free_bytes: int = 1 << 30  # storage.min_free: below it the recorder pauses
    timezone: str = "UTC"
    stats_interval_s: float = 5.0
    save_annotated: Path | None = None
    max_batch: int = 4  # in-process models: frames taken from the queue per call when detection falls behind
    vlm: VlmConfig | None = None  # events are sent to the VLM job queue when set
    index_url: str | None = None  # index.url: the site's PostgreSQL index (None: the SQLite file in storage_dir)
    storage: StorageConfig | None = None  # storage.url: finished files go to the object store too
    share_live: bool = False  # on a site: live pictures and figures go to the shared Redis too

    @property
    def index_target(self) -> Path | str:
        return self.index_url or self.storage_dir
