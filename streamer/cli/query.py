"""`streamer query` (ask the recordings) and `streamer serve` (the HTTP API without the cameras)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from streamer.cli.common import (
    ApiAuthOption,
    ApiHostOption,
    ApiPortOption,
    CamerasOption,
    ConfigOption,
    LogFormatOption,
    MaybeConfigOption,
    SinceOption,
    UntilOption,
    api_flags,
    checked_cameras,
    interrupt_on_signals,
    load_or_exit,
    progress,
)

EXIT_NO_HIT = 1
EXIT_BAD_INPUT = 2


def query(
    question: Annotated[
        str,
        typer.Argument(
            help='e.g. "when did the person fall", "was anyone in the yard after 10pm yesterday".', show_default=False
        ),
    ],
    config: MaybeConfigOption = None,
    camera: CamerasOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    scan: Annotated[
        bool, typer.Option("--scan", help="Also let the VLM look at footage where no event was raised.")
    ] = False,
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
    from streamer.logs import setup_logging
    from streamer.query.question import QuestionError
    from streamer.query.report import render_text
    from streamer.query.service import NoIndex, QueryService

    loaded = load_or_exit(config)
    if camera:
        checked_cameras(loaded, camera)
    setup_logging("warning", loaded.logging.format)  # the answer goes to stdout; only problems to the log
    try:
        service = QueryService(loaded)
        progress("loading the sentence model and reading the index…")
        doc = service.ask(question, camera, since, until, scan)
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
    config: ConfigOption,
    api_host: ApiHostOption = None,
    api_port: ApiPortOption = None,
    api_auth: ApiAuthOption = None,
    log_format: LogFormatOption = None,
) -> None:
    """Serve the HTTP API (GET /query, /clips/{id}, /snapshots/{id}) over the stores, without running cameras. The
    camera list follows the config file as it is edited (and on SIGHUP or POST /config/reload)."""
    from streamer.api.app import create_app
    from streamer.api.server import ApiServer
    from streamer.logs import setup_logging
    from streamer.query.service import QueryService

    loaded = load_or_exit(config)
    api = api_flags(loaded, api_host, api_port, api_auth, serving=True)
    setup_logging(loaded.logging.level, log_format.value if log_format else loaded.logging.format)
    redis_url, embedded = alerts_redis(loaded)
    server = ApiServer(create_app(QueryService(loaded), api, redis_url, config.resolve()), api)
    interrupt_on_signals()  # before the server starts: a Ctrl-C (or systemd's SIGTERM) is never lost to a gap
    try:
        if not server.start():
            raise typer.Exit(EXIT_BAD_INPUT)
        typer.echo(f"console: {server.url}/  (the API: {server.url}/docs; Ctrl-C to stop)", err=True)
        _serve_following(server, config.resolve(), loaded, redis_url)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        if embedded is not None:
            embedded.stop()


def _serve_following(server, path, loaded, redis_url: str | None) -> None:
    """Until the server ends: a config that changed (and loads) gives the console its cameras; one that does not
    load is logged with its errors, and the console keeps the cameras it has."""
    import logging

    from streamer.config.loader import ConfigError
    from streamer.runtime.reload import ConfigWatcher

    log = logging.getLogger("streamer.api")
    watcher = ConfigWatcher(path, loaded, (), redis_url, loaded.redis.prefix)
    watcher.install_sighup()
    try:
        while server.wait(0.5):
            why = watcher.due()
            if why is None:
                continue
            try:
                server.follow_config(watcher.load())
            except ConfigError as error:
                log.error("config reload refused (%s); the console keeps its cameras:\n%s", why, error)
                continue
            log.info(
                "config reloaded (%s): the console lists %s", why, ", ".join(server.app.state.cameras) or "no camera"
            )
    finally:
        watcher.close()


def alerts_redis(loaded):
    """Where the alert feed reads: the config's Redis, else its embedded server (started when not running, and
    then stopped with `serve`); (None, None) when that cannot start: the API serves on without a feed."""
    from streamer.alerts.embedded import EmbeddedRedisError
    from streamer.alerts.redis_access import find_redis

    try:
        address = find_redis(loaded.storage_dir, loaded.redis)
    except (EmbeddedRedisError, OSError) as error:
        typer.echo(f"warning: no alert feed: the embedded redis did not start: {error}", err=True)
        return None, None
    return address.url, address.started


def register(app: typer.Typer) -> None:
    app.command("query")(query)
    app.command("serve")(serve)
