"""The `streamer` command line, one module per group of commands: run (and validate-config), models and
samples, alerts, recordings and clips, query and serve, the VLM worker, probe, the embedded Redis. Shared
options and helpers are in `common`: every command names the same thing the same way."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from streamer.cli import (
    alerts,
    dataset,
    index_cmd,
    integrations,
    models,
    probe,
    query,
    recordings,
    redis_cmd,
    run,
    users,
    vlm,
)
from streamer.cli.common import plain_metavars


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"streamer {version('streamer')}")
        raise typer.Exit()


app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    help="Real-time video stream analytics. Every command takes -c/--config; docs/ says more.",
)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, metavar="", help="Print the version and exit."),
    ] = False,
) -> None:
    """Real-time video stream analytics. Every command takes -c/--config; docs/ says more."""


app.registered_commands += run.app.registered_commands
app.add_typer(models.models_app, name="models")
app.add_typer(alerts.alerts_app, name="alerts")
app.add_typer(models.samples_app, name="samples")
app.add_typer(recordings.clip_app, name="clip")
app.add_typer(recordings.recordings_app, name="recordings")
app.add_typer(redis_cmd.redis_app, name="redis")
app.add_typer(users.users_app, name="users")
app.add_typer(dataset.dataset_app, name="dataset")
app.add_typer(integrations.integrations_app, name="integrations")
app.add_typer(index_cmd.index_app, name="index")
vlm.register(app)
query.register(app)
probe.register(app)


def command():
    """The click command behind `app`, with plain metavars in its help."""
    built = typer.main.get_command(app)
    plain_metavars(built)
    return built


def main() -> None:  # pragma: no cover - `python -m streamer`
    logging.captureWarnings(True)
    command()(prog_name="streamer")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
