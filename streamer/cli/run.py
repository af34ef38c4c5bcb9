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
from streamer.config.query import ApiConfig
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
    from streamer.alerts.wiring import resolve_target
    from streamer.runtime.options import WorkerOptions
    from streamer.runtime.supervisor import Supervisor

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

    as_read = loaded  # the file itself: what a reload compares the file with
    loaded = with_command_line(loaded)
    selected = checked_cameras(loaded, camera, enabled_only=True)
    setup_logging(loaded.logging.level, loaded.logging.format)
    options = WorkerOptions(
        models_dir=loaded.models_dir,
        storage_dir=loaded.storage_dir,
        min_free_bytes=int(loaded.storage.min_free),
        timezone=loaded.timezone,
        stats_interval_s=loaded.logging.stats_interval_s,
        save_annotated=save_annotated.resolve() if save_annotated else None,
        vlm=loaded.vlm,
        index_url=loaded.index.url,
        storage=loaded.storage,
        share_live=loaded.site is not None,
    )
    target, embedded = resolve_target(loaded.storage_dir, loaded.redis)
    health = _hold_storage(loaded, target, node_label)
    camera_health, site = _camera_health_and_site(loaded, target, health, node_label)
    pool = None
    if loaded.vlm is not None and loaded.vlm.workers:
        from streamer.vlm.pool import WorkerPool

        pool = WorkerPool(config.resolve(), loaded.vlm, target.url, loaded.redis.prefix, loaded.logging.format)
    api = _start_api(loaded, api_settings, target.url, config.resolve())
    integrations = None
    try:
        integrations = _start_integrations(loaded, target.url, health.report)
        watcher = _watcher(config, as_read, target.url, with_command_line)
        code = Supervisor(
            loaded,
            options,
            selected,
            target,
            health,
            camera_health,
            site,
            watcher,
            on_reloaded=_followers(api, integrations),
            only=set(selected) if camera else None,
        ).run()
        watcher.close()
    finally:
        if integrations is not None:
            integrations.stop()  # after the workers' last alerts reached Redis: those are delivered too
        if api is not None:
            api.stop()
        if pool is not None:
            pool.drain_and_stop()
        camera_health.close()
        health.close()
        if embedded is not None:
            embedded.stop()
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


def _camera_health_and_site(loaded: StreamerConfig, target, health, node: str | None):
    """Camera health alerts (always), and on a site this host's coordinator of leases."""
    from zoneinfo import ZoneInfo

    from streamer.alerts.redis_access import connect
    from streamer.runtime.camera_health import CameraHealth

    tz = ZoneInfo(loaded.timezone)
    client = lambda: connect(target.url, loaded.redis.connect_timeout_s)  # noqa: E731
    camera_health = CameraHealth(loaded.health, health.publisher.submit, client, target.streams, tz)
    if loaded.site is None:
        return camera_health, None
    from streamer.runtime.site_link import SiteLink
    from streamer.site.coordinator import SiteCoordinator

    pins = {name: camera.node for name, camera in loaded.enabled_cameras().items()}
    coordinator = SiteCoordinator(
        loaded.site,
        node,
        pins,
        client(),
        loaded.redis.prefix,
        report=lambda camera, state, reason: health.report(camera, "site", state, reason),
    )
    typer.echo(f"site: this host is '{node}'", err=True)
    return camera_health, SiteLink(coordinator, camera_health, health.publisher.submit, client, target.streams, tz)


def _hold_storage(loaded: StreamerConfig, target, node: str | None = None):
    """The health reporter, whose spool's lock makes this run the storage folder's only one; then the metrics folder
    there, before any process starts (they inherit it)."""
    from streamer import metrics
    from streamer.alerts.health import HealthReporter
    from streamer.alerts.spool import SpoolBusy

    try:
        health = HealthReporter(target.publisher("health"), target.streams, watch_redis=True, node=node)
    except SpoolBusy as error:
        typer.echo(f"error: {error}: is another `streamer run` using storage_dir {loaded.storage_dir}?", err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    metrics.use_folder(loaded.storage_dir / "metrics")
    return health


def _watcher(config: Path, as_read: StreamerConfig, redis_url: str, adjust):
    """The config read again when the file changes, on SIGHUP, or on an admin's POST /config/reload."""
    from streamer.detect.model_checks import MODEL_CHECKS
    from streamer.runtime.reload import ConfigWatcher

    return ConfigWatcher(config.resolve(), as_read, MODEL_CHECKS, redis_url, as_read.redis.prefix, adjust)


def _start_api(loaded: StreamerConfig, settings: ApiConfig, redis_url: str, config_path: Path):
    """The question API beside the cameras (api.enabled); None when it is off or could not listen."""
    if not settings.enabled:
        return None
    from streamer.api.app import create_app
    from streamer.api.server import ApiServer
    from streamer.query.service import QueryService

    server = ApiServer(create_app(QueryService(loaded), settings, redis_url, config_path), settings)
    if not server.start():
        return None
    typer.echo(f"console: {server.url}/  (the API: {server.url}/docs)", err=True)
    return server


def _followers(api, integrations):
    """What follows a reload in this process: the API's camera list, the integrations (each changed one restarts)."""

    def follow(config: StreamerConfig) -> None:
        if api is not None:
            api.follow_config(config)
        integrations.reload(config)

    return follow


def _start_integrations(loaded: StreamerConfig, redis_url: str, report):
    """The config's integrations as consumer groups beside the cameras; their groups exist before any alert. Their
    receivers' states go to the health stream through `report`. A runner even with none: a reload may add one."""
    from streamer.integrations.runner import IntegrationError, IntegrationRunner

    runner = IntegrationRunner(loaded, redis_url, report=report)
    try:
        runner.start()
    except IntegrationError as error:
        runner.stop(drain_s=0)
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    return runner
