"""File sources against synthetic clips whose PTS we wrote ourselves: exact pts_s and wall_ts, sampling, bad files."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from testkit.sources import camera, play
from tests.helpers.clips import constant_rate, variable_rate, write_clip

START = datetime(2026, 11, 21, 9, 0, 0, tzinfo=timezone.utc)


def test_cfr_clip_gives_exact_pts_and_wall_time_and_samples_without_converting(tmp_path: Path) -> None:
    pts = constant_rate(25, 4.0)
    clip = write_clip(tmp_path / "cfr.mp4", pts)
    got = play(camera(str(clip), start_time=START.isoformat(), detect={"fps": 5}))
    assert [f.pts_s for f in got.frames] == pytest.approx([i * 0.2 for i in range(20)], abs=1e-6)
    assert [f.wall_ts for f in got.frames] == pytest.approx([START.timestamp() + i * 0.2 for i in range(20)], abs=1e-6)
    assert [f.index for f in got.frames] == list(range(0, 100, 5))
    assert got.source.counters.decoded == 100
    assert got.source.counters.converted == 20  # skipped frames never became pixels
    assert got.states == ["connecting", "streaming", "stopped"]
    assert got.changes[-1].reason == "end of file"


def test_vfr_clip_keeps_its_irregular_timing(tmp_path: Path) -> None:
    pts = variable_rate()
    clip = write_clip(tmp_path / "vfr.mp4", pts)
    got = play(camera(str(clip), start_time=START.isoformat(), detect={"fps": 120}))
    assert [f.pts_s for f in got.frames] == pytest.approx(pts, abs=1e-6)
    assert [f.wall_ts - START.timestamp() for f in got.frames] == pytest.approx(pts, abs=1e-6)


def test_vfr_sampling_takes_the_first_frame_at_or_after_each_due_time(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "vfr.mp4", variable_rate())
    got = play(camera(str(clip), start_time=START.isoformat(), detect={"fps": 2}))
    assert [round(f.pts_s, 4) for f in got.frames] == [0.0, 0.5, 1.5, 2.0, 2.5]  # the clip ends at 2.967 s


def test_creation_time_tag_sets_the_wall_clock(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "tagged.mp4", constant_rate(10, 1.0), creation_time="2026-01-02T03:04:05.000000Z")
    got = play(camera(str(clip), detect={"fps": 10}))
    assert got.frames[0].wall_ts == pytest.approx(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc).timestamp())


def test_loop_continues_wall_time_and_indices(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "loop.mp4", constant_rate(10, 1.0))
    got = play(camera(str(clip), loop=True, start_time=START.isoformat(), detect={"fps": 10}), max_frames=25)
    offsets = [f.wall_ts - START.timestamp() for f in got.frames]
    assert offsets == pytest.approx([i / 10 for i in range(25)], abs=1e-6)  # second loop starts at 1.0 s
    assert [f.index for f in got.frames] == list(range(25))
    assert got.states == ["connecting", "streaming", "stopped"]


def test_missing_file_fails_at_once_with_its_path(tmp_path: Path) -> None:
    got = play(camera(str(tmp_path / "nope.mp4")))
    assert got.states == ["connecting", "failed"]
    assert got.changes[-1].reason == f"file not found: {tmp_path / 'nope.mp4'}"


def test_file_that_is_not_a_video_fails_clearly(tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("these are meeting notes, not a video\n" * 100)
    got = play(camera(str(fake)))
    assert got.frames == [] and got.states == ["connecting", "failed"]
    assert "Invalid data found" in got.changes[-1].reason


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_mp4_is_reported_not_crashed_on(tmp_path: Path, keep: float) -> None:
    clip = write_clip(tmp_path / "whole.mp4", constant_rate(25, 4.0), width=320, height=240)
    data = clip.read_bytes()
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(data[: int(len(data) * keep)])  # the index (moov) is at the end: it is gone
    got = play(camera(str(truncated)))
    assert got.states[-1] == "failed"
    assert got.changes[-1].reason.endswith("the file is truncated, corrupt or not a video")


def test_mp4_cut_in_its_media_delivers_what_it_has_then_reports(tmp_path: Path) -> None:
    clip = tmp_path / "faststart.mp4"
    pts = constant_rate(25, 4.0)
    write_clip(clip, pts, width=320, height=240, container_options={"movflags": "faststart"})  # index first
    data = clip.read_bytes()
    clip.write_bytes(data[: len(data) // 2])
    got = play(camera(str(clip), detect={"fps": 25}))
    assert 0 < len(got.frames) < len(pts)
    assert got.states == ["connecting", "streaming", "failed"]
    assert got.changes[-1].reason.startswith("file is corrupt or truncated (after ")


def test_a_slow_consumer_is_not_mistaken_for_a_stalled_file(tmp_path: Path) -> None:
    """Files never drop frames: the decoder waits for detection. That wait is not the file stalling."""
    import time

    from testkit.sources import Recorder

    clip = write_clip(tmp_path / "c.mp4", constant_rate(10, 2))
    cam = camera(str(clip), connection={"stall_timeout_min_s": 0.3, "stall_frames": 1})
    recorder = Recorder(cam)
    for frame in recorder.source.frames():
        recorder.frames.append(frame)
        if len(recorder.frames) == 3:
            time.sleep(1.0)  # a detector hiccup three times longer than the stall timeout
    assert len(recorder.frames) == 10 and recorder.states[-1] == "stopped", recorder.changes[-1]  # 5 fps of 2 s


def test_a_looping_replay_as_live_never_stamps_a_frame_in_the_future(tmp_path: Path) -> None:
    """`start_time: now` + `realtime` + `loop`: each frame is handed out when its wall clock says. Before, pacing
    restarted with every loop while the clock ran on, and the unsampled tail of each loop was not waited for,
    so by the third loop frames carried times ahead of the real clock (alert latencies came out negative)."""
    import threading
    import time

    from streamer.source.reader import VideoSource

    clip = write_clip(tmp_path / "short.mp4", constant_rate(10, 1.0))
    cam = camera(str(clip), realtime=True, loop=True, start_time="now", detect={"fps": 2})
    stop = threading.Event()
    ahead = []
    started = time.time()
    for frame in VideoSource("replay", cam, stop).frames():
        ahead.append(frame.wall_ts - time.time())
        if time.time() - started > 3.5:
            stop.set()
    assert len(ahead) >= 6  # 2 fps over more than three loops of a 1 s clip
    assert max(ahead) < 0.05, [round(a, 3) for a in ahead]


def test_b_frames_are_not_decoded_where_sampling_allows_and_every_sample_keeps_its_own_time(bikes_mp4: Path) -> None:
    """bikes.mp4 (25 fps, with B-frames) sampled at 5 fps: with `skip_nonref_frames` the frames nothing refers to
    are never decoded; every frame still counts as received, and each sample is a real frame at its own PTS, at
    most a few frames after the one it replaces. A file by default decodes every frame (the same samples each run)."""
    import av

    with av.open(str(bikes_mp4)) as container:
        every_pts = sorted(float(f.pts * f.time_base) for f in container.decode(video=0))
    full = play(camera(str(bikes_mp4), start_time=START.isoformat(), detect={"fps": 5}))
    skipping = play(camera(str(bikes_mp4), start_time=START.isoformat(), detect={"fps": 5, "skip_nonref_frames": True}))
    assert full.source.counters.decoded == full.source.counters.received == len(every_pts)
    assert skipping.source.counters.received == len(every_pts)
    assert skipping.source.counters.decoded < 0.8 * len(every_pts)  # the B-frames were skipped
    assert all(min(abs(f.pts_s - p) for p in every_pts) < 1e-6 for f in skipping.frames)
    assert [f.wall_ts - f.pts_s for f in skipping.frames] == pytest.approx([START.timestamp()] * len(skipping.frames))
    assert abs(len(skipping.frames) - len(full.frames)) <= 1
    for ours, regular in zip(skipping.frames, full.frames):
        assert 0 <= ours.pts_s - regular.pts_s <= 0.125  # a sample moves to the next decoded frame, never earlier


def test_sampling_every_frame_decodes_every_frame(bikes_mp4: Path) -> None:
    got = play(camera(str(bikes_mp4), detect={"fps": 25, "skip_nonref_frames": True}))
    assert got.source.counters.decoded == got.source.counters.received == len(got.frames)
