"""`streamer clip export`, `streamer recordings list` and `prune`: reading and trimming the recordings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from streamer.cli.common import ConfigOption, known_camera, load_or_exit, read_index, time_range

clip_app = typer.Typer(no_args_is_help=True, help="Clips cut from the recordings.")
recordings_app = typer.Typer(no_args_is_help=True, help="Recorded segments, gaps and retention.")


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

    from streamer.core.timefmt import iso_time
    from streamer.record.export import NoRecording, export_clip
    from streamer.storage import UnsafePath

    loaded = load_or_exit(config)
    known_camera(loaded, camera)
    start_ts, end_ts = time_range(loaded, start, end)
    conn = read_index(loaded)
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

    from streamer.core.timefmt import iso_time
    from streamer.index import store

    loaded = load_or_exit(config)
    if camera:
        known_camera(loaded, camera)
    start_ts, end_ts = time_range(loaded, since, until)
    tz = ZoneInfo(loaded.timezone)
    conn = read_index(loaded)
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

    loaded = load_or_exit(config)
    max_bytes = int(loaded.storage.max_size) if loaded.storage.max_size is not None else None
    retention = Retention(loaded.storage_dir, {n: c.record for n, c in loaded.cameras.items()}, max_bytes)
    report = retention.run_once()
    typer.echo(f"deleted {report.deleted_segments} segments and {report.deleted_clips} clips, "
               f"freed {report.freed_bytes / 1e6:.1f} MB; {report.kept_bytes / 1e6:.1f} MB kept")


