"""What the commands share: loading a config (or exiting with its errors), a config section with the command
line's changes, Redis for the commands that read it, the index and time ranges of the recordings commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from streamer.config import ConfigError, StreamerConfig, load_config

EXIT_CONFIG = 2
ConfigArg = Annotated[Path, typer.Argument(help="YAML config file.", show_default=False)]
ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="YAML config file (storage folder, time zone).")]


def load_or_exit(path: Path, models: bool = False) -> StreamerConfig:
    """`models`: also check what loading the models needs (weights on disk, known classes, the GPU): only the
    commands that load them ask for it."""
    checks = ()
    if models:
        from streamer.detect.model_checks import MODEL_CHECKS

        checks = MODEL_CHECKS
    try:
        return load_config(path, checks=checks)
    except ConfigError as error:
        count = len(error.issues)
        typer.echo(f"{error.source}: {count} error{'s' if count != 1 else ''}", err=True)
        for issue in error.issues:
            typer.echo(f"  {issue.render(error.source)}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None


Section = TypeVar("Section", bound=BaseModel)


def with_flags(name: str, section: Section, flags: dict[str, tuple[str, object]],
               fixed: dict[str, object] | None = None) -> Section:
    """A config section with the command line's values (`flags`: flag → (field, value), None when not given; `fixed`:
    what the command itself sets), checked as the file's own values are (an open API bind refused unless said):
    a bad one exits with the config error code and a message naming the flags, before anything starts."""
    given = {flag: (field, value) for flag, (field, value) in flags.items() if value is not None}
    changes = {**(fixed or {}), **{field: value for field, value in given.values()}}
    if not changes:
        return section
    try:
        return type(section).model_validate({**section.model_dump(), **changes})
    except ValidationError as error:
        for item in error.errors():
            message = str(item['msg']).removeprefix("Value error, ")
            typer.echo(f"error: {name} ({', '.join(given) or 'as configured'}): {message}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None


def redis_for(config: Path | None, redis_url: str | None):
    """--redis-url, else the config's redis.url, else the config's embedded server (started if it is not running)."""
    from streamer.alerts.publisher import connect
    from streamer.alerts.wiring import embedded_for
    from streamer.config.redis import RedisConfig

    loaded = load_or_exit(config) if config else None
    settings = loaded.redis if loaded else RedisConfig()
    url, embedded = redis_url or settings.url, None
    if url is None:
        if loaded is None:
            typer.echo("error: give --config (its redis section or embedded server) or --redis-url / STREAMER_REDIS_URL", err=True)
            raise typer.Exit(EXIT_CONFIG)
        embedded = embedded_for(loaded.storage_dir, settings)
        embedded.ensure_running()
        url = embedded.url
    return connect(url, settings.connect_timeout_s), settings.prefix, embedded


def read_index(loaded: StreamerConfig):
    from streamer.index import db

    if not db.index_path(loaded.storage_dir).exists():
        typer.echo(f"error: no recordings index in {loaded.storage_dir} yet (has `streamer run` recorded anything?)", err=True)
        raise typer.Exit(1)
    return db.connect(loaded.storage_dir, readonly=True)


def time_range(loaded: StreamerConfig, start: str, end: str) -> tuple[float, float]:
    from zoneinfo import ZoneInfo

    from streamer.timeparse import TimeFormatError, parse_time

    tz = ZoneInfo(loaded.timezone)
    try:
        start_ts = parse_time(start, tz)
        end_ts = parse_time(end, tz, base=start_ts)
    except TimeFormatError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    if end_ts <= start_ts:
        typer.echo("error: --end must be after --start", err=True)
        raise typer.Exit(EXIT_CONFIG)
    return start_ts, end_ts


def known_camera(loaded: StreamerConfig, camera: str) -> None:
    if camera not in loaded.cameras:
        typer.echo(f"error: unknown camera '{camera}'; cameras: {', '.join(loaded.cameras)}", err=True)
        raise typer.Exit(EXIT_CONFIG)


