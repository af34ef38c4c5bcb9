"""`streamer query` (ask the recordings) and `streamer serve` (the HTTP API without the cameras)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

EXIT_NO_HIT = 1
EXIT_BAD_INPUT = 2


def query(
    question: Annotated[str, typer.Argument(help='e.g. "when did the person fall", "was anyone in the yard after 10pm yesterday".', show_default=False)],
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="YAML config file (cameras, storage folder, time zone, vlm).")] = None,
    camera: Annotated[Optional[str], typer.Option(help="Only this camera (overrides the question).")] = None,
    since: Annotated[Optional[str], typer.Option(help="Start: ISO 8601, epoch seconds, or relative (-2h); overrides the question.")] = None,
    until: Annotated[Optional[str], typer.Option(help="End: same forms; +30m counts from --since.")] = None,
    scan: Annotated[bool, typer.Option("--scan", help="Also let the VLM look at footage where no event was raised.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The answer as one JSON document.")] = False,
) -> None:
    """Ask the recordings in plain language. Exit 0 with hits, 1 without, 2 for a question or flag that cannot be
    answered as given (the message says why). `streamer query schema` prints the --json document's JSON Schema."""
    if question.strip() == "schema":
        from streamer.query.document import json_schema

        typer.echo(json_schema(), nl=False)
        return
    if config is None:
        typer.echo("error: give --config (its cameras, storage folder and time zone)", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    from streamer.cli.common import load_or_exit
    from streamer.logs import setup_logging
    from streamer.query.question import QuestionError
    from streamer.query.report import render_text
    from streamer.query.service import NoIndex, QueryService

    loaded = load_or_exit(config)
    setup_logging("warning", loaded.logging.format)  # the answer goes to stdout; only problems to the log
    try:
        doc = QueryService(loaded).ask(question, camera, since, until, scan)
    except QuestionError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except NoIndex as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_NO_HIT) from None
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
    else:
        typer.echo(render_text(doc, loaded.storage_dir))
    raise typer.Exit(0 if doc["hits"] else EXIT_NO_HIT)


def serve(
    config: Annotated[Path, typer.Option("--config", "-c", help="YAML config file (its api: section).")],
    host: Annotated[Optional[str], typer.Option(help="Bind address (default: api.host, 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(min=0, max=65535, help="Port (default: api.port; 0 picks a free one).")] = None,
    auth: Annotated[Optional[str], typer.Option(envvar="STREAMER_API_AUTH", help="'none': serve a non-loopback address open on purpose (api.auth).")] = None,
) -> None:
    """Serve the HTTP API (GET /query, /clips/{id}, /snapshots/{id}) over the stores, without running cameras."""
    from streamer.api.app import create_app
    from streamer.api.server import ApiServer
    from streamer.cli.common import load_or_exit, with_flags
    from streamer.logs import setup_logging
    from streamer.query.service import QueryService

    loaded = load_or_exit(config)
    setup_logging(loaded.logging.level, loaded.logging.format)
    api = with_flags("api", loaded.api, {"--host": ("host", host), "--port": ("port", port), "--auth": ("auth", auth)},
                     fixed={"enabled": True})  # serving is why it was started
    server = ApiServer(create_app(QueryService(loaded)), api)
    if not server.start():
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def register(app: typer.Typer) -> None:
    app.command("query")(query)
    app.command("serve")(serve)
