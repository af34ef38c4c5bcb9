"""`streamer alerts schema` and `streamer alerts tail`: the alert contract and a subscriber."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from streamer.cli.common import redis_for

alerts_app = typer.Typer(no_args_is_help=True, help="Alerts on Redis streams.")


@alerts_app.command("schema")
def alerts_schema() -> None:
    """Print the JSON Schema of the alert payload (schema_version 1) for subscribers."""
    from streamer.alerts.payload import json_schema

    typer.echo(json_schema(), nl=False)


@alerts_app.command("tail")
def alerts_tail(
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="Take Redis from this config (default: its embedded server).")] = None,
    redis_url: Annotated[Optional[str], typer.Option(envvar="STREAMER_REDIS_URL", help="redis://… (overrides --config).")] = None,
    camera: Annotated[Optional[str], typer.Option(help="Only this camera's stream.")] = None,
    group: Annotated[Optional[str], typer.Option(help="Read as a consumer of this group (XREADGROUP, XACK after output).")] = None,
    consumer: Annotated[Optional[str], typer.Option(help="Consumer name in the group (default: host-pid).")] = None,
    from_start: Annotated[bool, typer.Option("--from-start", help="Begin at the oldest entry kept (a new group starts there).")] = False,
    count: Annotated[Optional[int], typer.Option(min=1, help="Exit after this many alerts.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line, exactly as published.")] = False,
    claim_idle_s: Annotated[float, typer.Option(min=0.0, help="Take over entries another consumer left unacknowledged this long.")] = 30.0,
    health: Annotated[bool, typer.Option("--health", help="Tail the health stream (worker and camera states) instead.")] = False,
    follow: Annotated[bool, typer.Option("--follow/--no-follow", help="Wait for new alerts, or exit when none are left.")] = True,
) -> None:
    """Print alerts as they arrive (Ctrl-C to stop)."""
    import os
    import socket

    import redis

    from streamer.alerts.streams import StreamNames
    from streamer.alerts.tail import GroupTail, StreamTail, human_line

    client, prefix, embedded = redis_for(config, redis_url)
    names = StreamNames(prefix)
    stream = names.health if health else (names.camera_alerts(camera) if camera else names.alerts)
    printed = 0
    try:
        if group:
            name = consumer or f"{socket.gethostname()}-{os.getpid()}"
            reader = GroupTail(client, stream, group, name, from_start, claim_idle_s, follow=follow)
        else:
            reader = StreamTail(client, stream, from_start, follow=follow)
        for entry in reader.entries():
            typer.echo(entry.data if as_json or health else human_line(entry))
            sys.stdout.flush()
            reader.done(entry)  # acknowledged only once it is out
            printed += 1
            if count is not None and printed >= count:
                break
    except KeyboardInterrupt:
        pass
    except redis.RedisError as error:
        typer.echo(f"error: redis: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        client.close()
        if embedded is not None:
            embedded.stop()


