"""`streamer index status` and `streamer index copy`: where the index is, its schema revision, and moving an
existing SQLite index into the site's PostgreSQL database."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from streamer.cli.common import ConfigOption, load_or_exit, refuse

index_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="The index: where it is, and moving it.")


@index_app.command("status")
def index_status(config: ConfigOption) -> None:
    """The index's database (password hidden), its schema revision and its rows per table, as JSON."""
    from sqlalchemy import func, select

    from streamer.index import db, migrate
    from streamer.index.schema import metadata
    from streamer.redact import redact_url

    loaded = load_or_exit(config)
    target = loaded.index_target
    where = redact_url(str(target)) if isinstance(target, str) else str(db.index_path(target))
    if not db.exists(target):
        typer.echo(json.dumps({"index": where, "revision": None, "rows": {}}))
        return
    conn = db.connect(target)  # brings an older index up to date, as any writer would
    try:
        rows = {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in metadata.sorted_tables
        }
        typer.echo(
            json.dumps({"index": where, "revision": migrate.current(conn), "head": migrate.head(), "rows": rows})
        )
    finally:
        conn.close()


@index_app.command("copy")
def index_copy(
    config: ConfigOption,
    to: Annotated[
        str,
        typer.Option(
            "--to",
            metavar="URL",
            help="postgresql://user:password@host:port/database (empty: the schema is made there first).",
            show_default=False,
        ),
    ],
) -> None:
    """Copy this config's index (its SQLite file) into an empty PostgreSQL database, every event, state, VLM answer,
    review, segment, gap and track row, in one transaction; then set index.url to it. The file is left as it was."""
    from sqlalchemy.exc import SQLAlchemyError

    from streamer.config.index import IndexConfig
    from streamer.index import db
    from streamer.index.copy import TargetNotEmpty, copy_index
    from streamer.redact import redact_url

    loaded = load_or_exit(config)
    try:
        IndexConfig(url=to)
    except ValueError as error:
        refuse(f"--to: {error.errors()[0]['msg'] if hasattr(error, 'errors') else error}")
    if not db.exists(loaded.index_target):
        refuse(f"no index at {loaded.index_target} to copy")
    try:
        source = db.connect(loaded.index_target)
        target = db.connect(to)
    except SQLAlchemyError as error:
        typer.echo(f"error: cannot open {redact_url(to)}: {str(error).splitlines()[0]}", err=True)
        raise typer.Exit(1) from None
    try:
        report = copy_index(source, target)
    except TargetNotEmpty as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        source.close()
        target.close()
    typer.echo(json.dumps({"to": redact_url(to), "rows": report.rows, "total": report.total}))
