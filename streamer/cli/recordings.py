"""`streamer clip export`, `streamer recordings list` and `prune`: reading and trimming the recordings."""

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
    refuse,
    time_range,
)

clip_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Clips cut from the recordings.")
recordings_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Recorded segments, gaps and retention.")


@clip_app.command("export")
def clip_export(
    config: ConfigOption,
    output: Annotated[Path, typer.Option("--output", "-o", help="MP4 file to write.", show_default=False)],
    camera: CamerasOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    annotate: Annotated[bool, typer.Option("--annotate", help="Burn in boxes and track ids (re-encodes).")] = False,
) -> None:
    """Cut a clip of one camera from the recordings, across segment boundaries (remux from the keyframe before
    --since)."""
    import time as clock

    from streamer.core.timefmt import iso_time
    from streamer.media.files import MediaFiles
    from streamer.record.export import NoRecording, export_clip
    from streamer.storage import UnsafePath

    loaded = load_or_exit(config)
    for name, value in (("--camera", camera), ("--since", since), ("--until", until)):
        if not value:
            refuse(f"clip export needs {name}")
    if len(camera) > 1:
        refuse(f"a clip is of one camera; --camera was given {len(camera)} times (export one clip per camera)")
    camera = checked_cameras(loaded, camera)[0]
    start_ts, end_ts = time_range(loaded, since, until)
    conn = read_index(loaded)
    if annotate:
        progress("decoding, drawing and re-encoding (about 10 s of work per minute of video)…")
    started = clock.perf_counter()
    try:
        files = MediaFiles.for_storage(loaded.storage_dir, loaded.storage)  # local copies, else the object store
        clip = export_clip(files, conn, camera, start_ts, end_ts, output, annotate, dict(loaded.cameras[camera].zones))
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
    typer.echo(
        f"{clip.path}: {camera} {iso_time(max(clip.first_ts, start_ts), tz)} to {iso_time(clip.end_ts, tz)} "
        f"({clip.packets} {'frames' if annotate else 'packets'} from {clip.segments} segment(s), {how}, "
        f"{clock.perf_counter() - started:.2f} s)"
    )


@recordings_app.command("list")
def recordings_list(
    config: ConfigOption,
    camera: CamerasOption = None,
    since: Annotated[
        str,
        typer.Option("--since", "--start", help="Start of the range: ISO 8601, epoch seconds, now, or relative (-2h)."),
    ] = "-1d",
    until: Annotated[
        str, typer.Option("--until", "--end", help="End of the range: the same forms, or +1h (after --since).")
    ] = "now",
) -> None:
    """Segments and gaps in a time range (default: the last day); with none there, where the recordings are."""
    from zoneinfo import ZoneInfo

    from streamer.core.timefmt import iso_time
    from streamer.index import store

    loaded = load_or_exit(config)
    cameras = checked_cameras(loaded, camera)
    start_ts, end_ts = time_range(loaded, since, until)
    tz = ZoneInfo(loaded.timezone)
    conn = read_index(loaded)
    typer.echo(f"from {iso_time(start_ts, tz)} to {iso_time(end_ts, tz)} (--since {since} --until {until}):")
    try:
        for name in cameras:
            segments = store.segments_overlapping(conn, name, start_ts, end_ts)
            gaps = [g for g in store.gaps_of(conn, name) if g.end_ts > start_ts and g.start_ts < end_ts]
            typer.echo(
                f"{name}: {len(segments)} segments, {sum(s.duration_s for s in segments):.1f} s, "
                f"{sum(s.bytes for s in segments) / 1e6:.1f} MB, {len(gaps)} gaps"
            )
            for segment in segments:
                typer.echo(
                    f"  {iso_time(segment.start_ts, tz)}  {segment.duration_s:6.2f} s  {segment.frames:5d} frames  "
                    f"{segment.codec}{' (re-encoded)' if segment.transcoded else ''}  {segment.path}"
                )
            for gap in gaps:
                typer.echo(f"  gap {iso_time(gap.start_ts, tz)} +{gap.end_ts - gap.start_ts:.2f} s: {gap.reason}")
            if not segments:
                _where_recordings_are(conn, name, tz)
    finally:
        conn.close()


def _where_recordings_are(conn, camera: str, tz) -> None:
    from streamer.core.timefmt import iso_time
    from streamer.index import store

    every = store.segments_of(conn, camera)
    if every:
        first, last = min(s.start_ts for s in every), max(s.end_ts for s in every)
        typer.echo(
            f"  (none in this range; {camera}'s {len(every)} segments run from {iso_time(first, tz)} "
            f"to {iso_time(last, tz)}: give --since/--until)"
        )
    else:
        typer.echo(f"  (nothing recorded for {camera} yet)")


@recordings_app.command("prune")
def recordings_prune(config: ConfigOption) -> None:
    """Apply retention now (`streamer run` does it every storage.retention_every_s)."""
    from streamer.media.files import MediaFiles
    from streamer.record.cuts import CutCache
    from streamer.record.retention import Retention

    loaded = load_or_exit(config)
    max_bytes = int(loaded.storage.max_size) if loaded.storage.max_size is not None else None
    cuts = CutCache.for_storage(loaded.storage_dir, loaded.storage)
    retention = Retention(
        loaded.storage_dir,
        {n: c.record for n, c in loaded.cameras.items()},
        max_bytes,
        cuts,
        index=loaded.index_target,
        files=MediaFiles.for_storage(loaded.storage_dir, loaded.storage),
    )
    report = retention.run_once()
    typer.echo(
        f"deleted {report.deleted_segments} segments and {report.deleted_clips} clips, "
        f"freed {report.freed_bytes / 1e6:.1f} MB; {report.kept_bytes / 1e6:.1f} MB kept"
    )
