"""Open a container with the right options per URL kind, and read a file's recorded start time."""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

import av
import av.container

from streamer.config.cameras import CameraConfig, SourceKind


class SourceOpenError(Exception):
    """The source could not be opened; `retryable` says whether trying again may help."""

    def __init__(self, message: str, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


def open_container(camera: CameraConfig) -> av.container.InputContainer:
    conn = camera.connection
    options: dict[str, str] = {}
    url = camera.url
    lowered = url.lower()
    if lowered.startswith(("rtsp://", "rtsps://")):
        # TCP: UDP loses packets (grey smears) behind NAT and firewalls; timeout is ffmpeg's socket I/O limit in µs
        options = {"rtsp_transport": "tcp", "timeout": str(int(conn.read_timeout_s * 1e6))}
    elif lowered.startswith(("http://", "https://")):
        options = {"rw_timeout": str(int(conn.read_timeout_s * 1e6)), "reconnect": "1"}
    if camera.kind is SourceKind.FILE:
        path = camera.file_path()
        if not path.exists():
            raise SourceOpenError(f"file not found: {path}", retryable=False)
        url = str(path)
    started = time.monotonic()
    try:
        container = av.open(url, options=options, timeout=(conn.open_timeout_s, conn.read_timeout_s))
    except av.FFmpegError as error:
        raise _unplayable(camera, _live_hint(camera, _describe(error), time.monotonic() - started)) from None
    except OSError as error:
        raise SourceOpenError(f"{error.strerror or error}", retryable=camera.kind is SourceKind.LIVE) from None
    if not container.streams.video:
        container.close()
        raise _unplayable(camera, "no video stream found")
    return container


def recorded_start_ts(camera: CameraConfig, container: av.container.InputContainer) -> float:
    """Wall-clock time of a file's first frame: the config, else the container's creation_time tag, else
    the file's mtime minus its duration (a recorder writes the file last when the recording ends)."""
    if camera.start_time == "now":  # replaying a recording as if it were a live camera
        return time.time()
    if camera.start_time is not None:
        return camera.start_time.timestamp()
    tag = container.metadata.get("creation_time") or container.streams.video[0].metadata.get("creation_time")
    if tag:
        try:
            return datetime.fromisoformat(tag.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    duration_s = container.duration / 1_000_000 if container.duration else 0.0  # container duration is in µs
    return os.stat(Path(camera.file_path())).st_mtime - duration_s


def _unplayable(camera: CameraConfig, detail: str) -> SourceOpenError:
    """A file that will not play stays broken, so it is not retried; a live source may come back."""
    if camera.kind is SourceKind.FILE:
        return SourceOpenError(f"{detail}: the file is truncated, corrupt or not a video", retryable=False)
    return SourceOpenError(detail, retryable=True)


def _live_hint(camera: CameraConfig, detail: str, elapsed_s: float) -> str:
    """ffmpeg says "Invalid data found when processing input" when an RTSP host never answers or is unreachable, or
    when what answers is not an RTSP server: say what that usually means."""
    if camera.kind is not SourceKind.LIVE or "Invalid data" not in detail:
        return detail
    if elapsed_s >= 0.9 * camera.connection.open_timeout_s:
        return (
            f"no answer within {camera.connection.open_timeout_s:g} s: host down, wrong address or port, or a "
            f"firewall (ffmpeg: {detail})"
        )
    return f"no RTSP answer: host unreachable, or the port is not an RTSP server (ffmpeg: {detail})"


def _describe(error: av.FFmpegError) -> str:
    return getattr(error, "strerror", None) or str(error)
