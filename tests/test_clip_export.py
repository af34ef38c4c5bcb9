"""Clip export across segment boundaries, the `clip export` command, time parsing, and paths that try to leave
the storage folder."""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from streamer.cli import app
from streamer.index import db, store
from streamer.index.rows import SegmentRow, TrackSecond
from streamer.record.export import NoRecording, export_clip
from streamer.storage import UnsafePath, resolve_inside
from streamer.timeparse import TimeFormatError, parse_time
from tests.helpers.clips import constant_rate, write_clip
from tests.helpers.recording import START_TS, decoded_pts, record

GOP_S = 1.0


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    """12 s at 25 fps, a keyframe every second, recorded in 2 s segments."""
    folder = tmp_path_factory.mktemp("recorded")
    clip = write_clip(folder / "clip.mp4", constant_rate(25, 12.0), keyint=25)
    record(folder / "store", clip, segment_s=2.0)
    return folder / "store"


def test_export_across_segments_starts_and_ends_within_one_gop(recorded: Path, tmp_path: Path) -> None:
    conn = db.connect(recorded)
    start, end = START_TS + 3.3, START_TS + 8.7
    clip = export_clip(recorded, conn, "cam", start, end, tmp_path / "out.mp4")
    assert clip.segments == 4  # [2,4) [4,6) [6,8) [8,10)
    assert START_TS + 3.3 - GOP_S <= clip.first_ts <= start  # copied from the keyframe before start
    pts = decoded_pts(clip.path)
    # the edit list hides the frames before `start`: playback starts within a frame of it
    shown_from = start + pts[0]
    assert abs(shown_from - start) <= 1 / 25
    shown_to = start + pts[-1]
    assert end - GOP_S <= shown_to <= end + GOP_S
    steps = {round(b - a, 3) for a, b in zip(pts, pts[1:])}
    assert steps == {0.04}  # no hole and no repeat at the segment boundaries


def test_annotated_export_draws_the_track_summary_from_exactly_start(recorded: Path, tmp_path: Path) -> None:
    conn = db.connect(recorded)
    second = int(START_TS + 5)
    store.insert_track_seconds(conn, [TrackSecond("cam", second, 7, "person", (10.0, 10.0, 80.0, 100.0), 0.9)])
    clip = export_clip(recorded, conn, "cam", START_TS + 4.5, START_TS + 6.5, tmp_path / "annotated.mp4", annotate=True)
    pts = decoded_pts(clip.path)
    assert len(pts) == 50 and pts[0] <= 0.04  # re-encoded from the first frame at or after start: 2 s at 25 fps
    import av

    with av.open(str(clip.path)) as container:
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    inside_second = frames[20]  # 4.5 + 0.8 s: inside the second that has the box
    outside = frames[5]
    assert (
        abs(inside_second[10:100, 10:12].astype(int) - outside[10:100, 10:12].astype(int)).mean() > 20
    )  # box edge drawn


def test_a_range_without_recording_is_a_clear_error(recorded: Path, tmp_path: Path) -> None:
    conn = db.connect(recorded)
    with pytest.raises(NoRecording, match="its recordings span"):
        export_clip(recorded, conn, "cam", START_TS + 100, START_TS + 110, tmp_path / "none.mp4")
    assert not (tmp_path / "none.mp4").exists()


def write_config(folder: Path, storage: Path) -> Path:
    config = folder / "config.yaml"
    config.write_text(f"storage_dir: {storage}\ncameras:\n  cam: {{url: {folder / 'clip.mp4'}}}\n")
    return config


def test_clip_export_command(recorded: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path, recorded)
    out = tmp_path / "cli.mp4"
    runner = CliRunner()
    ok = runner.invoke(
        app,
        [
            "clip",
            "export",
            "-c",
            str(config),
            "--camera",
            "cam",
            "--start",
            "2026-11-21T09:00:03Z",
            "--end",
            "+4s",
            "-o",
            str(out),
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert out.is_file() and len(decoded_pts(out)) == pytest.approx(100, abs=2)
    # An absolute range an hour before the recording: "-10m..now" would overlap it when the suite runs at
    # 09:00-09:10 UTC.
    empty = runner.invoke(
        app,
        [
            "clip",
            "export",
            "-c",
            str(config),
            "--camera",
            "cam",
            "--start",
            "2026-11-21T08:00:00Z",
            "--end",
            "+10m",
            "-o",
            str(out),
        ],
    )
    assert empty.exit_code == 1 and "no recording of camera 'cam'" in empty.output
    unknown = runner.invoke(
        app,
        ["clip", "export", "-c", str(config), "--camera", "lobby", "--start", "-10m", "--end", "now", "-o", str(out)],
    )
    assert unknown.exit_code == 2 and "the cameras are: cam" in unknown.output
    bad_time = runner.invoke(
        app,
        ["clip", "export", "-c", str(config), "--camera", "cam", "--start", "teatime", "--end", "now", "-o", str(out)],
    )
    assert bad_time.exit_code == 2 and "ISO 8601" in bad_time.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-21T09:00:00+00:00", 1795251600.0),
        ("2026-11-21T09:00:00Z", 1795251600.0),
        ("2026-11-21T10:00:00", 1795251600.0),  # no offset: the configured zone (Europe/Paris, UTC+1 in November)
        ("2026-11-21 10:00", 1795251600.0),
        ("1795251600", 1795251600.0),
        ("1795251600.5", 1795251600.5),
        ("now", 1795300000.0),
        ("-10m", 1795300000.0 - 600),
        ("-2h", 1795300000.0 - 7200),
        ("-1d", 1795300000.0 - 86400),
        ("-30s", 1795300000.0 - 30),
    ],
)
def test_times_on_the_command_line(text: str, expected: float) -> None:
    assert parse_time(text, ZoneInfo("Europe/Paris"), now=1795300000.0) == expected


def test_relative_end_counts_from_start_and_bad_times_are_named() -> None:
    assert parse_time("+30s", ZoneInfo("UTC"), now=0, base=1795251600.0) == 1795251630.0
    for bad in ("", "yesterday-ish", "12", "2026-13-01"):
        with pytest.raises(TimeFormatError):
            parse_time(bad, ZoneInfo("UTC"))


@pytest.mark.parametrize("relative", ["../outside.mp4", "recordings/../../outside.mp4", "/etc/passwd", "~/x.mp4", ""])
def test_paths_that_leave_the_storage_folder_are_refused(tmp_path: Path, relative: str) -> None:
    with pytest.raises(UnsafePath):
        resolve_inside(tmp_path, relative)


def test_a_symlink_out_of_the_storage_folder_is_refused(tmp_path: Path) -> None:
    storage, outside = tmp_path / "storage", tmp_path / "secret"
    storage.mkdir()
    outside.mkdir()
    (outside / "file.mp4").write_bytes(b"not yours")
    os.symlink(outside, storage / "recordings")
    with pytest.raises(UnsafePath, match="link"):
        resolve_inside(storage, "recordings/file.mp4")
    (storage / "ok.mp4").write_bytes(b"")
    assert resolve_inside(storage, "ok.mp4") == (storage / "ok.mp4").resolve()


def test_export_refuses_an_index_row_pointing_outside(tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    conn = db.connect(storage)
    (tmp_path / "outside.mp4").write_bytes(b"")
    store.insert_segment(conn, SegmentRow("cam", START_TS, START_TS + 10, "../outside.mp4", "h264", 25.0, 250, 1, 0.0))
    with pytest.raises(UnsafePath):
        export_clip(storage, conn, "cam", START_TS + 1, START_TS + 2, tmp_path / "x.mp4")
