"""`streamer integrations run`: the config's integrations (MQTT, webhooks, notifications) without the cameras, on
any host that reaches the Redis; `streamer run` runs them itself. `streamer integrations dead` lists the alerts
an output gave up on."""

from __future__ import annotations

import json
import signal
import threading
from typing import Annotated, Optional

import typer

from streamer.cli.common import EXIT_CONFIG, ConfigOption, LogFormatOption, load_or_exit, refuse

integrations_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Where alerts go besides Redis: MQTT and Home Assistant, webhooks, notifications.",
)

OnlyOption = Annotated[
    Optional[list[str]], typer.Option("--only", help="Run only this integration (repeatable).", show_default=False)
]


def checked_names(loaded, only: list[str] | None) -> list[str] | None:
    if not loaded.integrations:
        refuse("the config has no integrations: section (docs/integrations.md)")
    if only:
        unknown = sorted(set(only) - set(loaded.integrations))
        if unknown:
            refuse(f"unknown integration {', '.join(unknown)}; the integrations are {', '.join(loaded.integrations)}")
    return only or None


@integrations_app.command("run")
def integrations_run(config: ConfigOption, only: OnlyOption = None, log_format: LogFormatOption = None) -> None:
    """Deliver alerts from the stream to the config's integrations until Ctrl-C; each resumes where its consumer
    group left off, so nothing is lost while it was down."""
    from streamer.cli.query import alerts_redis
    from streamer.integrations.runner import IntegrationError, IntegrationRunner
    from streamer.logs import setup_logging

    loaded = load_or_exit(config)
    names = checked_names(loaded, only)
    setup_logging(loaded.logging.level, log_format.value if log_format else loaded.logging.format)
    redis_url, embedded = alerts_redis(loaded)
    if redis_url is None:
        raise typer.Exit(1)
    health = _health(loaded, redis_url)
    runner = IntegrationRunner(loaded, redis_url, names, report=health.take)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        runner.start()
        typer.echo(f"integrations: {', '.join(runner.names) or 'none enabled'} (Ctrl-C to stop)", err=True)
        while not stop.wait(0.5):
            pass
    except IntegrationError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    finally:
        runner.stop(drain_s=0)
        health.close()
        if embedded is not None:
            embedded.stop()


def _health(loaded, redis_url: str):
    """The receivers' states on the health stream, spooled in this host's storage folder like the service's own; a
    second `integrations run` on the same folder is refused (its spool is locked): one runner per integration."""
    from streamer.alerts.health import HealthReporter
    from streamer.alerts.spool import SpoolBusy
    from streamer.alerts.wiring import AlertTarget

    target = AlertTarget(redis_url, loaded.redis, loaded.storage_dir / "spool")
    try:
        return HealthReporter(target.publisher("integrations-health"), target.streams)
    except SpoolBusy:
        refuse(f"`streamer integrations run` is already running on storage_dir {loaded.storage_dir}")


@integrations_app.command("dead")
def integrations_dead(
    config: ConfigOption,
    count: Annotated[int, typer.Option(min=1, max=100_000, help="The newest this many.")] = 20,
) -> None:
    """The alerts integrations gave up on (newest first), one JSON object a line: integration, error, attempts and
    the alert itself."""
    from streamer.alerts.redis_access import connect
    from streamer.alerts.streams import StreamNames
    from streamer.cli.query import alerts_redis

    loaded = load_or_exit(config)
    redis_url, embedded = alerts_redis(loaded)
    if redis_url is None:
        raise typer.Exit(1)
    client = connect(redis_url, loaded.redis.connect_timeout_s)
    try:
        for entry_id, fields in client.xrevrange(StreamNames(loaded.redis.prefix).integrations_dead, count=count):
            row = {key.decode(): value.decode() for key, value in fields.items()}
            row["data"] = json.loads(row.get("data") or "null")
            typer.echo(json.dumps({"id": entry_id.decode(), **row}))
    finally:
        client.close()
        if embedded is not None:
            embedded.stop()
