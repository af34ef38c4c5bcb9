"""What the commands share: loading a config (or exiting with its errors), a config section with the command
line's changes, Redis for the commands that read it, the index and time ranges of the recordings commands."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from streamer.config import ConfigError, StreamerConfig, load_config

EXIT_CONFIG = 2
TIME_FORMS = "ISO 8601 (the config's timezone when it has no offset), epoch seconds, now, or relative (-10m, -2h, -1d)"

# One grammar for every command: the same names, forms and checks for the same things.
ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", metavar="FILE", help="YAML config file.", show_default=False)
]
MaybeConfigOption = Annotated[
    Optional[Path], typer.Option("--config", "-c", metavar="FILE", help="YAML config file.", show_default=False)
]
CamerasOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--camera",
        metavar="NAME",
        help="Only this camera (repeatable); checked against the config's cameras.",
        show_default=False,
    ),
]
SinceOption = Annotated[
    Optional[str],
    typer.Option("--since", "--start", metavar="TIME", help=f"Start of the range: {TIME_FORMS}.", show_default=False),
]
UntilOption = Annotated[
    Optional[str],
    typer.Option(
        "--until",
        "--end",
        metavar="TIME",
        help="End of the range: the same forms, or +30s (after --since).",
        show_default=False,
    ),
]
RedisUrlOption = Annotated[
    Optional[str],
    typer.Option(
        envvar="STREAMER_REDIS_URL",
        metavar="URL",
        help="redis://…, rediss://… or unix://… instead of the config's redis.url / embedded server.",
        show_default=False,
    ),
]
ApiHostOption = Annotated[
    Optional[str],
    typer.Option(
        "--api-host",
        envvar="STREAMER_API_HOST",
        metavar="HOST",
        help="Serve the API on this address instead of api.host (a container: 0.0.0.0).",
        show_default=False,
    ),
]
ApiPortOption = Annotated[
    Optional[int],
    typer.Option(
        "--api-port",
        envvar="STREAMER_API_PORT",
        metavar="PORT",
        min=0,
        max=65535,
        help="Port instead of api.port (0: any free one).",
        show_default=False,
    ),
]


class LogFormat(str, Enum):
    text = "text"
    json = "json"


class ApiAuth(str, Enum):
    users = "users"
    none = "none"


LogFormatOption = Annotated[
    Optional[LogFormat], typer.Option(help="Log lines as text or json (default: logging.format).", show_default=False)
]
ApiAuthOption = Annotated[
    Optional[ApiAuth],
    typer.Option(
        "--api-auth",
        envvar="STREAMER_API_AUTH",
        help="api.auth: 'users' (always a login) or 'none' (open on purpose).",
        show_default=False,
    ),
]


def refuse(message: str) -> None:
    """Options that make no sense as given: exit 2 with the reason."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_CONFIG)


def interrupt_on_signals() -> None:
    """Ctrl-C and SIGTERM raise KeyboardInterrupt, the command's clean stop. Installed explicitly: a command started
    in the background by a script inherits SIGINT as ignored, and Python then never installs its own handler."""
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.default_int_handler)


def progress(message: str) -> None:
    """What a long step is doing, on stderr so that stdout stays the command's answer."""
    typer.echo(message, err=True)


def load_or_exit(path: Path, models: bool = False, sources: bool = False) -> StreamerConfig:
    """`models`: also check what loading the models needs (weights on disk, known classes, the GPU): only the
    commands that load them ask for it. `sources`: also open each file source (validate-config)."""
    checks: tuple = ()
    if models:
        from streamer.detect.model_checks import MODEL_CHECKS

        checks += MODEL_CHECKS
    if sources:
        from streamer.source.checks import SOURCE_CHECKS

        checks += SOURCE_CHECKS
    try:
        return load_config(path, checks=checks)
    except ConfigError as error:
        count = len(error.issues)
        typer.echo(f"{error.source}: {count} error{'s' if count != 1 else ''}", err=True)
        for issue in error.issues:
            typer.echo(f"  {issue.render(error.source)}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None


Section = TypeVar("Section", bound=BaseModel)


def with_flags(
    name: str, section: Section, flags: dict[str, tuple[str, object]], fixed: dict[str, object] | None = None
) -> Section:
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
            message = str(item["msg"]).removeprefix("Value error, ")
            typer.echo(f"error: {name} ({', '.join(given) or 'as configured'}): {message}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None


def api_flags(
    loaded: StreamerConfig, host: str | None, port: int | None, auth: "ApiAuth | None", serving: bool = False
):
    """The api section with --api-host/--api-port/--api-auth (and their STREAMER_API_* variables) applied; `serving`:
    `streamer serve`, which is started to serve it, whatever api.enabled says. Exit 2 before anything starts when
    it asks for a login that nobody could give."""
    from streamer.api.security import NoUsers, auth_mode
    from streamer.auth.bootstrap import BootstrapError, first_admin
    from streamer.auth.store import UserStore

    settings = with_flags(
        "api",
        loaded.api,
        {
            "--api-host": ("host", host),
            "--api-port": ("port", port),
            "--api-auth": ("auth", auth.value if auth else None),
        },
        fixed={"enabled": True} if serving else None,
    )
    if settings.enabled:
        store = UserStore.for_config(loaded)
        try:
            made = first_admin(store)
            auth_mode(settings, store)
        except (NoUsers, BootstrapError) as error:
            refuse(str(error))
        if made:
            typer.echo(
                f"added admin '{made}' from the environment (the first user: the API now asks for a login)", err=True
            )
    return settings


def redis_for(config: Path | None, redis_url: str | None):
    """--redis-url, else the config's redis.url, else the config's embedded server (started if it is not running):
    a client, the stream prefix, and the embedded server when this call started it (the caller stops it)."""
    from streamer.alerts.embedded import EmbeddedRedisError
    from streamer.alerts.redis_access import connect, find_redis
    from streamer.config.redis import RedisConfig

    loaded = load_or_exit(config) if config else None
    settings = loaded.redis if loaded else RedisConfig()
    if redis_url is None and settings.url is None and loaded is None:
        typer.echo(
            "error: give --config (its redis section or embedded server) or --redis-url / STREAMER_REDIS_URL", err=True
        )
        raise typer.Exit(EXIT_CONFIG)
    try:
        address = find_redis(loaded.storage_dir if loaded else Path("."), settings, redis_url)
    except (EmbeddedRedisError, OSError) as error:
        typer.echo(f"error: the embedded redis did not start: {error}", err=True)
        raise typer.Exit(1) from None
    return connect(address.url, settings.connect_timeout_s), settings.prefix, address.started


def read_index(loaded: StreamerConfig):
    from streamer.index import db

    if not db.exists(loaded.index_target):
        typer.echo(
            f"error: no recordings index in {loaded.storage_dir} yet (has `streamer run` recorded anything?)", err=True
        )
        raise typer.Exit(1)
    return db.connect(loaded.index_target, readonly=True)


def time_range(loaded: StreamerConfig, start: str, end: str) -> tuple[float, float]:
    """--since/--until in the config's timezone; --until may count from --since (+30s)."""
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
        typer.echo("error: --until must be after --since", err=True)
        raise typer.Exit(EXIT_CONFIG)
    return start_ts, end_ts


def checked_cameras(loaded: StreamerConfig, cameras: Sequence[str] | None, enabled_only: bool = False) -> list[str]:
    """The cameras asked for (every one when none is), each known to the config, else exit 2 with the list."""
    pool = loaded.enabled_cameras() if enabled_only else loaded.cameras
    unknown = [name for name in cameras or () if name not in pool]
    if unknown:
        what = "unknown or disabled" if enabled_only else "unknown"
        refuse(
            f"{what} camera{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"the {'enabled ' if enabled_only else ''}cameras are: {', '.join(pool) or '(none)'}"
        )
    return list(dict.fromkeys(cameras)) if cameras else list(pool)


def plain_metavars(command) -> None:
    """Typer names an option's value after its Python type (`<path>`, `<int range>`, `<bool>` on a flag): give
    every option still without a metavar a plain one (TEXT, INTEGER, PATH, [a|b]), and flags none."""
    for param in getattr(command, "params", []):
        if getattr(param, "param_type_name", "") == "argument":
            param.display_type_rich = lambda ctx: ""  # `QUESTION <str>`: the name says enough
        if getattr(param, "param_type_name", "") != "option" or param.metavar:
            continue
        descriptor = getattr(param, "type_descriptor", None)
        kind = getattr(descriptor, "annotation", str)
        if param.is_flag or kind is bool:
            param.metavar = ""
        elif isinstance(kind, type) and issubclass(kind, Enum):
            param.metavar = "[" + "|".join(str(item.value) for item in kind) + "]"
        elif kind is Path:
            param.metavar = "PATH"
        elif kind is int:
            param.metavar = "INTEGER"
        elif kind is float:
            param.metavar = "SECONDS" if param.name.endswith("_s") else "NUMBER"
        else:
            param.metavar = "TEXT"
    for sub in getattr(command, "commands", {}).values():
        plain_metavars(sub)
