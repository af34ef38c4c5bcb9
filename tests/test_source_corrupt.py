"""Corrupt input is skipped and counted, never fatal: bikes.mp4 with a share of its media bytes overwritten plays
to its end with nearly every frame, its bad packets counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.corrupt import corrupted_copy
from testkit.sources import Recorder, camera


@pytest.fixture(scope="module")
def clean_frames(bikes_mp4: Path) -> int:
    return len(Recorder(camera(str(bikes_mp4), detect={"fps": 25})).run().frames)


@pytest.mark.parametrize(("share", "min_decoded"), [(0.001, 0.95), (0.01, 0.85), (0.05, 0.3)])
def test_a_corrupt_file_plays_to_its_end_with_its_bad_packets_counted(
    share: float, min_decoded: float, bikes_mp4: Path, tmp_path: Path, clean_frames: int
) -> None:
    """Measured (seed 7): 247, 226 and 105 of 250 frames; before, the first bad packet failed the camera."""
    broken = corrupted_copy(bikes_mp4, tmp_path / "broken.mp4", share)
    recorder = Recorder(camera(str(broken), detect={"fps": 25})).run()
    assert recorder.states[-1] == "stopped", recorder.changes[-1]  # played to the end, not failed
    counters = recorder.source.counters
    assert counters.corrupt_packets > 0
    assert len(recorder.frames) >= min_decoded * clean_frames, (len(recorder.frames), clean_frames)
    pts = [f.pts_s for f in recorder.frames]
    assert all(b > a for a, b in zip(pts, pts[1:]))  # what was decoded keeps its own times, and time moves forward
    assert all(b.wall_ts > a.wall_ts for a, b in zip(recorder.frames, recorder.frames[1:]))
