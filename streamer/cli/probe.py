"""`streamer probe URL`: check a stream (or file) before it goes in the config: open it the way a camera worker
does (RTSP over TCP, the same timeouts), read a few frames, print what it is."""

from __future__ import annotations

import time
from typing import Annotated

import typer

EXIT_UNREACHABLE = 1


def probe(
    url: Annotated[
        str, typer.Argument(help="rtsp://user:pass@host:554/path, http(s)://…m3u8, or a file.", show_default=False)
    ],
    frames: Annotated[int, typer.Option(min=1, max=1000, help="Frames to read.")] = 25,
    timeout_s: Annotated[float, typer.Option(min=0.5, max=300, help="Open and read timeout.")] = 10.0,
) -> None:
    """Open URL like a camera worker, read some frames, and print codec, size, frame rate and read speed. Exit 0
    when frames came, 1 when the source cannot be opened or read (the message says what ffmpeg said)."""
    import av

    from streamer.config.cameras import CameraConfig, ConnectionConfig
    from streamer.redact import redact_url
    from streamer.source.opening import SourceOpenError, open_container

    shown = redact_url(url)
    try:
        camera = CameraConfig(url=url, connection=ConnectionConfig(open_timeout_s=timeout_s, read_timeout_s=timeout_s))
    except ValueError as error:
        typer.echo(f"error: {shown}: {error}", err=True)
        raise typer.Exit(2) from None
    started = time.monotonic()
    try:
        container = open_container(camera)
    except SourceOpenError as error:
        typer.echo(f"error: {shown}: cannot open: {error} (docs/troubleshooting.md)", err=True)
        raise typer.Exit(EXIT_UNREACHABLE) from None
    opened_s = time.monotonic() - started
    stream = container.streams.video[0]
    # read while the container is open: PyAV (18.1.1 on) refuses a stream's attributes once it is closed
    rate, codec = stream.average_rate or stream.guessed_rate, stream.codec_context.name
    count, first_pts, last_pts, size = 0, None, None, (stream.codec_context.width, stream.codec_context.height)
    try:
        for frame in container.decode(stream):
            if frame.pts is not None:
                first_pts = frame.time if first_pts is None else first_pts
                last_pts = frame.time
            size = (frame.width, frame.height)
            count += 1
            if count >= frames:
                break
    except av.FFmpegError as error:
        typer.echo(f"warning: reading stopped after {count} frames: {error}", err=True)
    finally:
        container.close()
    elapsed = time.monotonic() - started
    if not count:
        typer.echo(f"error: {shown}: opened, but no frame could be decoded", err=True)
        raise typer.Exit(EXIT_UNREACHABLE)
    span = (last_pts - first_pts) if first_pts is not None and last_pts is not None else 0.0
    measured = f", {(count - 1) / span:.2f} fps by PTS" if span and count > 1 else ""
    typer.echo(
        f"{shown}: {codec} {size[0]}x{size[1]}, {float(rate or 0):.2f} fps declared{measured}; "
        f"opened in {opened_s:.2f} s, {count} frames read in {elapsed:.2f} s"
    )


def register(app: typer.Typer) -> None:
    app.command("probe")(probe)
