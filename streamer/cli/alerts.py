"""`streamer alerts schema` and `streamer alerts tail`: the alert contract and a subscriber."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from streamer.cli.common import (
    CamerasOption,
    RedisUrlOption,
    checked_cameras,
    interrupt_on_signals,
    load_or_exit,
    redis_for,
    refuse,
)

alerts_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Alerts on Redis streams.")


@alerts_app.command("schema")
def alerts_schema() -> None:
    """Print the JSON Schema of the alert payload (schema_version 1) for subscribers."""
    from streamer.alerts.payload import json_schema

    typer.echo(json_schema(), nl=False)


@alerts_app.command("tail")
def alerts_tail(
    config: Annotated[
        Optional[Path],
        typer.Option(
            "--config",
            "-c",
            help="Take Redis and the cameras from this config (default: its embedded server).",
            show_default=False,
        ),
    ] = None,
    redis_url: RedisUrlOption = None,
    camera: CamerasOption = None,
    group: Annotated[
        Optional[str],
        typer.Option(help="Read as a consumer of this group (XREADGROUP, XACK after output).", show_default=False),
    ] = None,
    consumer: Annotated[
        Optional[str], typer.Option(help="Consumer name in the --group (default: host-pid).", show_default=False)
    ] = None,
    from_start: Annotated[
        bool, typer.Option("--from-start", help="Begin at the oldest entry kept (a new group starts there).")
    ] = False,
    count: Annotated[
        Optional[int], typer.Option(min=1, help="Exit after this many alerts.", show_default=False)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line, exactly as published.")] = False,
    claim_idle_s: Annotated[
        Optional[float],
        typer.Option(
            min=0.0,
            help="With --group: take over entries another consumer left unacknowledged this long [default: 30].",
            show_default=False,
        ),
    ] = None,
    health: Annotated[
        bool,
        typer.Option("--health", help="Tail the health stream (worker, camera, recorder and Redis states) instead."),
    ] = False,
    follow: Annotated[
        bool, typer.Option("--follow/--no-follow", help="Wait for new alerts, or exit when none are left.")
    ] = True,
) -> None:
    """Print alerts as they arrive (Ctrl-C to stop)."""
    import os
    import socket

    import redis

    from streamer.alerts.streams import StreamNames
    from streamer.alerts.tail import GroupTail, StreamTail, human_line

    if group is None and (consumer is not None or claim_idle_s is not None):
        refuse(
            f"{'--consumer' if consumer is not None else '--claim-idle-s'} needs --group "
            "(a plain tail has no consumers)"
        )
    if health and (camera or as_json):
        refuse(
            f"{'--camera' if camera else '--json'} does not apply to --health "
            "(health entries are printed whole, for every camera)"
        )
    cameras = checked_cameras(load_or_exit(config), camera) if camera and config else camera
    client, prefix, embedded = redis_for(config, redis_url)
    names = StreamNames(prefix)
    printed = 0
    interrupt_on_signals()
    try:
        if cameras and not config:
            _known_on_redis(client, names, cameras)
        streams = (
            [names.health] if health else [names.camera_alerts(name) for name in cameras] if cameras else [names.alerts]
        )
        if group:
            name = consumer or f"{socket.gethostname()}-{os.getpid()}"
            reader = GroupTail(
                client, streams, group, name, from_start, 30.0 if claim_idle_s is None else claim_idle_s, follow=follow
            )
        else:
            reader = StreamTail(client, streams, from_start, follow=follow)
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


def _known_on_redis(client, names, cameras: list[str]) -> None:
    """Without a config the cameras are the ones with an alert stream on this Redis; a typo is not a silent tail."""
    known = sorted(
        key.decode().removeprefix(names.camera_alerts(""))
        for key in client.scan_iter(names.camera_alerts("*"), _type="stream")
    )
    unknown = [name for name in cameras if name not in known]
    if unknown:
        refuse(
            f"no alert stream for camera{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(map(repr, unknown))} on this Redis; "
            f"cameras with alerts: {', '.join(known) or '(none yet)'} (give --config to check against its cameras)"
        )
