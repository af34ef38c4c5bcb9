"""The recorder on real files: segments play, add up to the source, start at the right wall-clock time,
survive PTS jumps and legacy codecs, and `events` mode keeps only what events need."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

from streamer.config.recording import RecordConfig
from streamer.index import db, store
from streamer.record.recorder import Recorder, RecorderState
from tests.helpers.clips import constant_rate, write_clip
from tests.helpers.recording import START_TS, decoded_pts, indexed, record, record_with

FRAME_S = 1 / 25


def test_real_video_is_remuxed_into_segments_that_play_and_add_up(tmp_path: Path, bikes_mp4: Path) -> None:
    with av.open(str(bikes_mp4)) as source:
        stream = source.streams.video[0]
        keyframes = [float(p.pts * stream.time_base) for p in source.demux(stream) if p.is_keyframe]
        source_frames = stream.frames
    states: list = []
    _, segments = record(tmp_path, bikes_mp4, segment_s=2.0, states=states)
    assert states[-1] == (
        RecorderState.STOPPED,
        f"stream over: {len(segments)} segments, {sum(s.bytes for s in segments) / 1e6:.1f} MB, 0 packets dropped",
    )
    # a segment is cut at the first keyframe at least 2 s after its start: bikes.mp4 has keyframes at 0, 1.2, 3.04…
    expected_starts = [0.0]
    for key in keyframes:
        if key - expected_starts[-1] >= 2.0:
            expected_starts.append(key)
    assert [round(s.start_ts - START_TS, 3) for s in segments] == pytest.approx(expected_starts, abs=1e-3)
    frames = [len(decoded_pts(tmp_path / s.path)) for s in segments]
    assert frames == [s.frames for s in segments]  # every packet written decodes
    assert sum(frames) == source_frames == 250
    assert sum(s.duration_s for s in segments) == pytest.approx(10.0, abs=FRAME_S)
    for before, after in zip(segments, segments[1:]):
        assert after.start_ts == pytest.approx(before.end_ts, abs=1e-3)  # contiguous: no gap, no overlap
    assert {s.codec for s in segments} == {"h264"} and not any(s.transcoded for s in segments)
    assert all(s.path.startswith("recordings/cam/2026-11-21/09/") for s in segments)


def test_synthetic_clip_boundaries_are_right_to_one_frame(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clip.mp4", constant_rate(25, 7.0), keyint=25)  # a keyframe every second
    _, segments = record(tmp_path / "store", clip, segment_s=2.0)
    assert [s.start_ts - START_TS for s in segments] == pytest.approx([0.0, 2.0, 4.0, 6.0], abs=FRAME_S)
    assert [s.end_ts - START_TS for s in segments] == pytest.approx([2.0, 4.0, 6.0, 7.0], abs=FRAME_S)
    for segment in segments:
        pts = decoded_pts(tmp_path / "store" / segment.path)
        assert len(pts) == segment.frames == round(segment.duration_s * 25)
        # the file's own timeline agrees with the index: first frame at media_start_s, one frame every 40 ms
        assert pts[0] == pytest.approx(segment.media_start_s, abs=1e-3)
        assert pts[-1] - pts[0] == pytest.approx(segment.duration_s - FRAME_S, abs=1e-3)


def test_a_pts_gap_starts_a_new_segment_and_is_recorded(tmp_path: Path) -> None:
    times = constant_rate(25, 3.0) + [5.0 + t for t in constant_rate(25, 2.0)]  # 2 s of nothing after 3 s
    clip = write_clip(tmp_path / "gap.mp4", times, keyint=25)
    _, segments = record(tmp_path / "store", clip, segment_s=10.0, max_gap_s=1.0)
    assert [round(s.start_ts - START_TS, 2) for s in segments] == [0.0, 5.0]
    assert segments[0].end_ts - START_TS == pytest.approx(3.0, abs=FRAME_S)
    conn = db.connect(tmp_path / "store")
    gaps = store.gaps_of(conn, "cam")
    conn.close()
    assert len(gaps) == 1 and "jumped forward" in gaps[0].reason
    assert (gaps[0].start_ts - START_TS, gaps[0].end_ts - START_TS) == pytest.approx((3.0, 5.0), abs=FRAME_S)
    assert sum(len(decoded_pts(tmp_path / "store" / s.path)) for s in segments) == len(times)


def test_pts_that_jump_back_start_a_new_segment_and_time_keeps_going(tmp_path: Path) -> None:
    """Two MPEG-TS files glued together: the second restarts its PTS (a camera whose clock reset)."""
    part = write_clip(tmp_path / "part.ts", constant_rate(25, 3.0), keyint=25, container_format="mpegts")
    glued = tmp_path / "glued.ts"
    glued.write_bytes(part.read_bytes() * 2)
    _, segments = record(tmp_path / "store", glued, segment_s=10.0)
    assert len(segments) == 2
    first, second = segments
    assert second.start_ts == pytest.approx(first.end_ts, abs=FRAME_S)  # continues, never goes back in time
    assert first.duration_s == pytest.approx(3.0, abs=FRAME_S) and second.duration_s == pytest.approx(3.0, abs=FRAME_S)
    assert [len(decoded_pts(tmp_path / "store" / s.path)) for s in segments] == [75, 75]
    conn = db.connect(tmp_path / "store")
    (jump,) = store.gaps_of(conn, "cam")
    conn.close()
    assert "jumped back" in jump.reason and jump.end_ts - jump.start_ts == pytest.approx(0.0, abs=FRAME_S)


def test_codec_mp4_players_do_not_take_is_reencoded_to_h264(tmp_path: Path, caplog) -> None:
    old = write_clip(
        tmp_path / "old.avi", constant_rate(25, 3.0), codec="mpeg4", keyint=25, time_base=Fraction(1, 1000)
    )  # MPEG-4 part 2 takes no time base finer than 1/65535
    _, segments = record(tmp_path / "store", old, segment_s=1.0)
    assert "re-encoding to H.264" in caplog.text and "mpeg4" in caplog.text
    assert {s.codec for s in segments} == {"h264"} and all(s.transcoded for s in segments)
    for segment in segments:
        with av.open(str(tmp_path / "store" / segment.path)) as container:
            assert container.streams.video[0].codec_context.name == "h264"
    assert sum(len(decoded_pts(tmp_path / "store" / s.path)) for s in segments) == 75
    assert sum(s.duration_s for s in segments) == pytest.approx(3.0, abs=FRAME_S)


def test_events_mode_keeps_only_segments_near_events(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clip.mp4", constant_rate(25, 12.0), keyint=25)
    config = RecordConfig(mode="events", segment_s=2.0, pre_roll_s=1.0, post_roll_s=1.0)
    storage = tmp_path / "store"
    recorder = Recorder(storage, "cam", config, 0, live=False)
    recorder.windows.closed("e1", START_TS + 5.5, START_TS + 6.5)  # needs 4.5 … 7.5: segments [4,6) and [6,8)
    record_with(recorder, clip)
    assert [round(s.start_ts - START_TS) for s in indexed(storage)] == [4, 6]
    files = sorted(p.name for p in (storage / "recordings").rglob("*.mp4"))
    assert len(files) == 2  # the others were deleted, not just left out of the index


def test_full_disk_pauses_the_recorder_and_says_so(tmp_path: Path, bikes_mp4: Path) -> None:
    states: list = []
    recorder, segments = record(tmp_path, bikes_mp4, min_free_bytes=1 << 60, states=states)
    assert segments == []
    paused = [reason for state, reason in states if state is RecorderState.PAUSED]
    assert paused and "disk full" in paused[0] and "min_free" in paused[0]
