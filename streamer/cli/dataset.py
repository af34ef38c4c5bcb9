"""`streamer dataset export`: the reviewed events as a fine-tuning set for Qwen2.5-VL (docs/vlm.md says the layout)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from streamer.cli.common import (
    CamerasOption,
    ConfigOption,
    SinceOption,
    UntilOption,
    checked_cameras,
    load_or_exit,
    progress,
    read_index,
    time_range,
)

dataset_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="People's reviews as training data.")


@dataset_app.command("export")
def dataset_export(
    config: ConfigOption,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for train.jsonl and the frames.", show_default=False)
    ],
    since: SinceOption = None,
    until: UntilOption = None,
    camera: CamerasOption = None,
) -> None:
    """Every reviewed event that starts in the range (default: everything recorded): its frames at the VLM's rate
    with their real times, the VLM stage's prompt, and the review as the answer, one conversation a line."""
    from streamer.query.dataset import export_reviews

    loaded = load_or_exit(config)
    cameras = checked_cameras(loaded, camera)
    if since is None and until is None:
        since_ts, until_ts = 0.0, float("inf")  # everything recorded
    else:
        since_ts, until_ts = time_range(loaded, since or "2000-01-01T00:00:00+00:00", until or "now")
    conn = read_index(loaded)
    progress("sampling the reviewed events' frames from the recordings…")
    try:
        report = export_reviews(loaded, conn, since_ts, until_ts, output, cameras)
    finally:
        conn.close()
    typer.echo(
        f"{report.path}: {report.written} reviewed event(s)"
        + (f"; {len(report.skipped)} skipped" if report.skipped else "")
    )
    for reason in report.skipped:
        typer.echo(f"  skipped {reason}")
