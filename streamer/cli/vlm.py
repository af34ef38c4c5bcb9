"""`streamer vlm-worker` and `streamer vlm stats`: the VLM side of the command line."""

from __future__ import annotations

import json
import signal
from typing import Annotated, Optional

import typer

from streamer.cli.common import ConfigOption, LogFormatOption, RedisUrlOption

vlm_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="The VLM job queue.")


def _vlm_config(loaded):
    if loaded.vlm is None:
        typer.echo("error: the config has no 'vlm:' section (backend: transformers | openai | scripted)", err=True)
        raise typer.Exit(2)
    return loaded.vlm


def vlm_worker(
    config: ConfigOption,
    redis_url: RedisUrlOption = None,
    consumer: Annotated[Optional[str], typer.Option(help="Name in the consumer group (default: host-pid).", show_default=False)] = None,
    max_jobs: Annotated[Optional[int], typer.Option(min=1, help="Stop after this many jobs.", show_default=False)] = None,
    exit_when_idle: Annotated[Optional[float], typer.Option(min=0, help="Stop after this many seconds without a job.", show_default=False)] = None,
    log_format: LogFormatOption = None,
) -> None:
    """Answer VLM jobs from Redis (consumer group `vlm`) until stopped; run as many as the GPUs allow, anywhere
    that reaches Redis and the storage folder."""
    from zoneinfo import ZoneInfo

    from streamer.alerts.direct import AlertWriter
    from streamer.alerts.streams import StreamNames
    from streamer.cli.common import load_or_exit, redis_for
    from streamer.logs import setup_logging
    from streamer.media.files import MediaFiles
    from streamer.runtime.stop import SignalStop
    from streamer.vlm.backends import build_backend
    from streamer.vlm.queue import JobQueue, default_consumer
    from streamer.vlm.worker import VlmWorker

    loaded = load_or_exit(config)
    vlm = _vlm_config(loaded)
    setup_logging(loaded.logging.level, log_format.value if log_format else loaded.logging.format)
    stop = SignalStop()
    signal.signal(signal.SIGTERM, stop.set)
    signal.signal(signal.SIGINT, stop.set)
    client, prefix, _ = redis_for(config, redis_url)
    try:
        backend = build_backend(vlm)
    except (OSError, ValueError) as error:
        typer.echo(f"error: VLM backend '{vlm.backend.value}' cannot start: {error}", err=True)
        raise typer.Exit(1) from None
    queue = JobQueue(client, StreamNames(prefix), vlm.queue)
    worker = VlmWorker(backend, queue, AlertWriter(client, loaded.redis), vlm, loaded.storage_dir,
                       consumer or default_consumer(), ZoneInfo(loaded.timezone), index=loaded.index_target,
                       files=MediaFiles.for_storage(loaded.storage_dir, loaded.storage))
    try:
        done = worker.run(stop.is_set, max_jobs, exit_when_idle)
    finally:
        worker.close()
    typer.echo(json.dumps({"jobs_done": done, "queue": queue.stats()}))


def vlm_stats(
    config: ConfigOption,
    redis_url: RedisUrlOption = None,
) -> None:
    """The queue's figures as one JSON object whose keys are always there (docs/vlm.md says what each counts):
    waiting, running, dead, and the enqueue and drop counters."""
    from streamer.alerts.streams import StreamNames
    from streamer.cli.common import load_or_exit, redis_for
    from streamer.vlm.queue import JobQueue

    vlm = _vlm_config(load_or_exit(config))
    client, prefix, _ = redis_for(config, redis_url)
    typer.echo(json.dumps(JobQueue(client, StreamNames(prefix), vlm.queue).stats(), sort_keys=True))


def register(app: typer.Typer) -> None:
    app.command("vlm-worker")(vlm_worker)
    vlm_app.command("stats")(vlm_stats)
    app.add_typer(vlm_app, name="vlm")
