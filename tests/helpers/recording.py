"""Record a video with the real source and recorder (no models: recording does not need them)."""

from __future__ import annotations

import threading
from pathlib import Path

import av

from streamer.config.cameras import CameraConfig
from streamer.config.recording import RecordConfig
from streamer.index import db, store
from streamer.index.rows import SegmentRow
from streamer.record.recorder import Recorder, RecorderState
from streamer.source.reader import VideoSource

START = "2026-11-21T09:00:00+00:00"
START_TS = 1795251600.0  # START as epoch seconds


def record(
    storage: Path,
    url: Path | str,
    camera: str = "cam",
    min_free_bytes: int = 0,
    states: list | None = None,
    **record_options,
) -> tuple[Recorder, list[SegmentRow]]:
    config = CameraConfig(url=str(url), start_time=START, record=RecordConfig(**record_options))
    seen = states if states is not None else []
    recorder = Recorder(
        storage,
        camera,
        config.record,
        min_free_bytes,
        live=False,
        on_state=lambda change: seen.append((RecorderState(change.state), change.reason)),
    )
    record_with(recorder, url, config)
    assert recorder.state in (RecorderState.STOPPED, RecorderState.PAUSED, RecorderState.WAITING), seen
    return recorder, indexed(storage, camera)


def indexed(storage: Path, camera: str = "cam") -> list[SegmentRow]:
    conn = db.connect(storage)
    try:
        return store.segments_of(conn, camera)
    finally:
        conn.close()


def decoded_pts(path: Path) -> list[float]:
    """Every frame decoded (an error fails the test), as seconds of the file's own timeline."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [float(frame.pts * stream.time_base) for frame in container.decode(stream)]


def record_with(recorder: Recorder, url: Path | str, config: CameraConfig | None = None) -> None:
    config = config or CameraConfig(url=str(url), start_time=START, record=recorder.config)
    source = VideoSource(recorder.camera, config, threading.Event(), packet_tap=recorder)
    for _ in source.frames():
        pass
    recorder.close()
