"""`streamer vlm-worker` and `streamer vlm stats`: the VLM side of the command line."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Annotated, Optional

import typer

from streamer.cli.common import ConfigOption, LogFormatOption, MaybeConfigOption, RedisUrlOption, load_or_exit

vlm_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="The VLM job queue, and fine-tuning from reviews."
)


def _vlm_config(loaded):
    if loaded.vlm is None:
        typer.echo("error: the config has no 'vlm:' section (backend: transformers | openai | scripted)", err=True)
        raise typer.Exit(2)
    return loaded.vlm


def vlm_worker(
    config: ConfigOption,
    redis_url: RedisUrlOption = None,
    consumer: Annotated[
        Optional[str], typer.Option(help="Name in the consumer group (default: host-pid).", show_default=False)
    ] = None,
    max_jobs: Annotated[
        Optional[int], typer.Option(min=1, help="Stop after this many jobs.", show_default=False)
    ] = None,
    exit_when_idle: Annotated[
        Optional[float], typer.Option(min=0, help="Stop after this many seconds without a job.", show_default=False)
    ] = None,
    log_format: LogFormatOption = None,
) -> None:
    """Answer VLM jobs from Redis (consumer group `vlm`) until stopped; run as many as the GPUs allow, anywhere
    that reaches Redis and the storage folder."""
    from zoneinfo import ZoneInfo

    from streamer.alerts.direct import AlertWriter
    from streamer.alerts.streams import StreamNames
    from streamer.cli.common import redis_for
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
    worker = VlmWorker(
        backend,
        queue,
        AlertWriter(client, loaded.redis),
        vlm,
        loaded.storage_dir,
        consumer or default_consumer(),
        ZoneInfo(loaded.timezone),
        index=loaded.index_target,
        files=MediaFiles.for_storage(loaded.storage_dir, loaded.storage),
    )
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
    from streamer.cli.common import redis_for
    from streamer.vlm.queue import JobQueue

    vlm = _vlm_config(load_or_exit(config))
    client, prefix, _ = redis_for(config, redis_url)
    typer.echo(json.dumps(JobQueue(client, StreamNames(prefix), vlm.queue).stats(), sort_keys=True))


def vlm_finetune(
    export: Annotated[Path, typer.Argument(help="A `streamer dataset export` folder.", show_default=False)],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="New folder for the LoRA adapter and finetune.json.", show_default=False),
    ],
    config: MaybeConfigOption = None,
    base: Annotated[
        Optional[str],
        typer.Option(
            help="Base model folder or id (default: the config's vlm.transformers.model).", show_default=False
        ),
    ] = None,
    epochs: Annotated[float, typer.Option(min=0.1, help="Passes over the training clips.")] = 3.0,
    learning_rate: Annotated[float, typer.Option(min=1e-7, max=1.0, help="AdamW's rate for the LoRA weights.")] = 1e-4,
    rank: Annotated[int, typer.Option(min=1, max=256, help="LoRA rank (alpha is twice it).")] = 16,
    held_out: Annotated[
        float, typer.Option(min=0.05, max=0.9, help="Share of each verdict held out to measure on.")
    ] = 0.25,
    seed: Annotated[int, typer.Option(help="The split's and the training's seed.")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda[:N].")] = "auto",
) -> None:
    """LoRA on the language model from the reviewed events of an export, the vision tower frozen; the held-out
    clips are asked before and after as the VLM stage asks them. Prints the report (also in OUTPUT/finetune.json);
    load the adapter with `vlm.transformers.adapter`, or serve it with vLLM's --enable-lora (docs/vlm.md)."""
    from streamer.config.vlm import SamplingConfig, TransformersConfig
    from streamer.vlm.backends.adapter import AdapterError
    from streamer.vlm.finetune.export import ExportError
    from streamer.vlm.finetune.lora import LoraSettings
    from streamer.vlm.finetune.run import finetune

    vlm = load_or_exit(config).vlm if config is not None else None
    sampling = vlm.sampling if vlm is not None else SamplingConfig()
    model = vlm.transformers if vlm is not None else TransformersConfig()
    model = model.model_copy(update={"model": base or model.model, "device": device})
    settings = LoraSettings(rank=rank, alpha=2 * rank, epochs=epochs, learning_rate=learning_rate, seed=seed)
    try:
        report = finetune(export, output, model, sampling, settings, held_out)
    except (ExportError, AdapterError, FileExistsError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    except OSError as error:
        typer.echo(f"error: the base model '{model.model}' cannot be loaded: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(report))


def register(app: typer.Typer) -> None:
    app.command("vlm-worker")(vlm_worker)
    vlm_app.command("stats")(vlm_stats)
    vlm_app.command("finetune")(vlm_finetune)
    app.add_typer(vlm_app, name="vlm")
