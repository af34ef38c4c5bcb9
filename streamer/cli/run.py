"""`streamer validate-config` and `streamer run`: the service itself, with the API beside the cameras."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from streamer.cli.common import (
    EXIT_CONFIG,
    ApiAuthOption,
    ApiHostOption,
    ApiPortOption,
    CamerasOption,
    ConfigOption,
    LogFormatOption,
    RedisUrlOption,
    api_flags,
    checked_cameras,
    load_or_exit,
    with_flags,
)
from streamer.config import StreamerConfig
from streamer.logs import setup_logging

app = typer.Typer()


@app.command("validate-config")
def validate_config(config: ConfigOption) -> None:
    """Check a config without running it: every field, the weights on disk, the GPU named, each file source opened
    as a video. Exit 0 when valid; otherwise print every error with its YAML path and line and exit 2."""
    loaded = load_or_exit(config, models=True, sources=True)
    enabled = loaded.enabled_cameras()
    typer.echo(
        f"{config}: valid ({len(enabled)} of {len(loaded.cameras)} cameras enabled; storage_dir {loaded.storage_dir})"
    )
    for name, camera in loaded.cameras.items():
        flag = "" if camera.enabled else " (disabled)"
        typer.echo(
            f"  {name}: {camera.kind.value} {camera.safe_url} @ {camera.detect.fps:g} fps, "
            f"model {camera.detect.model.weights}, {len(camera.zones)} zones, {len(camera.rules)} rules{flag}"
        )
    for name, output in loaded.integrations.items():
        flag = "" if output.enabled else " (disabled)"
        typer.echo(f"  integration {name}: {output.kind}{flag}")
    from streamer.config.diff import config_changes, running_fingerprint

    running = running_fingerprint(loaded.storage_dir)
    if running is not None:
        typer.echo("against what `streamer run` on this storage_dir runs (or last ran), a reload would change:")
        for line in config_changes(running, loaded).lines():
            typer.echo(f"  {line}")


@app.command()
def run(
    config: ConfigOption,
    save_annotated: Annotated[
        Optional[Path], typer.Option(help="Write an annotated MP4 per camera into this folder.", show_default=False)
    ] = None,
    camera: CamerasOption = None,
    log_format: LogFormatOption = None,
    redis_url: RedisUrlOption = None,
    api_host: ApiHostOption = None,
    api_port: ApiPortOption = None,
    api_auth: ApiAuthOption = None,
    node: Annotated[
        Optional[str],
        typer.Option(
            "--node",
            envvar="STREAMER_NODE",
            metavar="NAME",
            help="This host's name on a site of many hosts (the config's site: section); default: the host name.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the service: one worker process per enabled camera until stopped (file sources: until played). With a
    `site:` section, the cameras this host's share of the site holds, as they come and go."""
    from streamer.runtime.service import ServicePlan, ServiceStartError, run_service

    loaded = load_or_exit(config, models=True)
    if loaded.site is not None and camera:
        typer.echo(
            "error: --camera does not apply to a site (the hosts share every enabled camera; pin one with "
            "cameras.<name>.node)",
            err=True,
        )
        raise typer.Exit(EXIT_CONFIG)
    node_label = _node(loaded, node)
    api_settings = api_flags(loaded, api_host, api_port, api_auth)

    def with_command_line(read: StreamerConfig) -> StreamerConfig:  # at start, and on each reload
        if log_format is not None:
            read = read.model_copy(update={"logging": read.logging.model_copy(update={"format": log_format.value})})
        return read.model_copy(update={"redis": with_flags("redis", read.redis, {"--redis-url": ("url", redis_url)})})

    adjusted = with_command_line(loaded)
    selected = checked_cameras(adjusted, camera, enabled_only=True)
    setup_logging(adjusted.logging.level, adjusted.logging.format)
    plan = ServicePlan(
        config_path=config,
        as_read=loaded,
        config=adjusted,
        adjust=with_command_line,
        cameras=selected,
        only=set(selected) if camera else None,
        api=api_settings,
        node=node_label,
        save_annotated=save_annotated,
    )
    try:
        code = run_service(plan, say=lambda line: typer.echo(line, err=True))
    except ServiceStartError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    raise typer.Exit(code)


def _node(loaded: StreamerConfig, flag: str | None) -> str | None:
    """This host's name on the site (None alone)."""
    if loaded.site is None:
        return None
    from streamer.site.node import BadNodeName, node_name

    try:
        return node_name(flag)
    except BadNodeName as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None
