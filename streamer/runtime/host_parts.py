"""The parts one host runs beside its camera workers, built from the config: retention, the uploads to the object
store, and the shared inference engine. The supervisor starts them before the workers and stops them after."""

from __future__ import annotations

from streamer.config.engine import EngineMode
from streamer.config.root import StreamerConfig
from streamer.core.health import HealthListener
from streamer.engine.host import EngineHost
from streamer.media.files import MediaFiles
from streamer.media.objects import ObjectStore
from streamer.media.uploader import Uploader
from streamer.record.cuts import CutCache
from streamer.record.retention import Retention, RetentionLoop
from streamer.runtime.options import WorkerOptions


def retention_loop(config: StreamerConfig, options: WorkerOptions) -> RetentionLoop:
    cameras = {name: camera.record for name, camera in config.cameras.items()}
    storage = config.storage
    max_bytes = int(storage.max_size) if storage.max_size is not None else None
    cuts = CutCache.for_storage(options.storage_dir, storage)
    files = MediaFiles.for_storage(options.storage_dir, storage)
    return RetentionLoop(
        Retention(options.storage_dir, cameras, max_bytes, cuts, index=options.index_target, files=files),
        storage.retention_every_s,
    )


def uploader_for(config: StreamerConfig, options: WorkerOptions, on_state: HealthListener) -> Uploader | None:
    """With storage.url: the host's uploads of its finished files, in order, waiting out the store's outages."""
    storage = config.storage
    if storage.url is None:
        return None
    return Uploader(options.storage_dir, ObjectStore(storage), storage.s3.local_keep_h * 3600, on_state=on_state)


def engine_host_for(
    config: StreamerConfig, options: WorkerOptions, camera_names: list[str], on_state: HealthListener
) -> EngineHost | None:
    """`engine.mode: process`: one engine per device for these cameras' models; None when each worker detects."""
    if config.engine.mode is not EngineMode.PROCESS:
        return None
    logging_cfg = config.logging
    return EngineHost(
        {name: config.cameras[name] for name in camera_names},
        config.engine,
        options.models_dir,
        (logging_cfg.level, logging_cfg.format),
        logging_cfg.stats_interval_s,
        on_state,
        options.storage_dir,
    )
