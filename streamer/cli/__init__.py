"""The `streamer` command line, one module per group of commands: run (and validate-config), models and
samples, alerts, recordings and clips, query and serve, the VLM worker. Shared helpers are in `common`."""

from __future__ import annotations

import logging
import sys

import typer

from streamer.cli import alerts, models, query, recordings, run, vlm

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Real-time video stream analytics.")
app.registered_commands += run.app.registered_commands
app.add_typer(models.models_app, name="models")
app.add_typer(alerts.alerts_app, name="alerts")
app.add_typer(models.samples_app, name="samples")
app.add_typer(recordings.clip_app, name="clip")
app.add_typer(recordings.recordings_app, name="recordings")
vlm.register(app)
query.register(app)


def main() -> None:  # pragma: no cover - `python -m streamer`
    logging.captureWarnings(True)
    app(prog_name="streamer")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
