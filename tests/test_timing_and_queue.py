"""Pure pieces of the live path: PTS sampling, clocks, backoff, the bounded queue, credential scrubbing."""

from __future__ import annotations

import random
import threading

import numpy as np
import pytest

from streamer.core.backoff import Backoff
from streamer.frame import Frame
from streamer.redact import redact_url, scrub
from streamer.runtime.frame_queue import DropPolicy, FrameQueue
from streamer.source.timing import FileClock, FpsSampler, LiveClock


def kept(fps: float, pts: list[float]) -> list[float]:
    sampler = FpsSampler(fps)
    return [p for p in pts if sampler.take(p)]


@pytest.mark.parametrize(
    ("fps", "pts", "expected"),
    [
        (5, [i / 25 for i in range(25)], [0.0, 0.2, 0.4, 0.6, 0.8]),  # 25 → 5 fps: every 5th frame
        (30, [i / 10 for i in range(5)], [0.0, 0.1, 0.2, 0.3, 0.4]),  # detect faster than the stream: keep all
        (2, [0.0, 0.1, 0.45, 0.52, 1.01, 1.6], [0.0, 0.52, 1.01, 1.6]),  # VFR: first frame at or after each due time
        (5, [0.0, 0.2, 3.0, 3.1, 3.2, 3.4], [0.0, 0.2, 3.0, 3.2, 3.4]),  # after a gap, no burst to catch up
        (5, [5.0, 5.2, 0.0, 0.2], [5.0, 5.2, 0.0, 0.2]),  # PTS went backwards (new connection): restart the grid
    ],
)
def test_sampler_keeps_frames_by_pts(fps: float, pts: list[float], expected: list[float]) -> None:
    assert kept(fps, pts) == pytest.approx(expected)


def test_sampler_average_rate_matches_detect_fps_for_odd_ratios() -> None:
    pts = [i / 30 for i in range(30 * 20)]  # 20 s at 30 fps, detect at 7 fps
    assert len(kept(7, pts)) == pytest.approx(7 * 20, abs=1)


def test_live_clock_anchors_once_per_connection_then_follows_pts() -> None:
    clock = LiveClock()
    assert clock.wall_ts(10.0, received_at=1000.0) == 1000.0
    # the next frame arrives late (jitter) but its time comes from PTS, not from arrival
    assert clock.wall_ts(10.5, received_at=1000.9) == pytest.approx(1000.5)


def test_file_clock_adds_pts_from_the_stream_origin_and_loop_offset() -> None:
    clock = FileClock(start_ts=1_800_000_000.0, origin_pts=0.08)
    assert clock.wall_ts(0.08) == 1_800_000_000.0
    clock.loop_offset_s = 10.0
    assert clock.wall_ts(1.08) == pytest.approx(1_800_000_011.0)


def test_backoff_grows_exponentially_with_jitter_and_caps() -> None:
    backoff = Backoff(1.0, 8.0, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(6)]
    ceilings = [1, 2, 4, 8, 8, 8]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings)), delays
    assert len(set(delays)) == len(delays)  # jittered
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def _frame(index: int) -> Frame:
    return Frame("cam", index, index / 10, 1000 + index / 10, np.zeros((2, 2, 3), np.uint8))


def test_live_queue_drops_the_oldest_and_counts() -> None:
    queue = FrameQueue(3, DropPolicy.DROP_OLDEST)
    for i in range(5):
        assert queue.put(_frame(i))
    assert queue.dropped == 2
    assert [f.index for f in queue.get_batch(10, 0.1)] == [2, 3, 4]


def test_file_queue_blocks_instead_of_dropping() -> None:
    queue = FrameQueue(2, DropPolicy.BLOCK)
    producer = threading.Thread(target=lambda: [queue.put(_frame(i)) for i in range(6)] and queue.close())
    producer.start()
    received = []
    while (batch := queue.get_batch(1, 1.0)) is not None:
        received += [f.index for f in batch]
    producer.join(5)
    assert received == list(range(6)) and queue.dropped == 0


def test_blocked_put_gives_up_when_stopped() -> None:
    queue = FrameQueue(1, DropPolicy.BLOCK)
    stop = threading.Event()
    queue.put(_frame(0))
    stop.set()
    assert queue.put(_frame(1), abort=stop) is False


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://admin:hunter2@10.0.0.5:554/live", "rtsp://admin:***@10.0.0.5:554/live"),
        ("rtsps://token@cam.example/x", "rtsps://***@cam.example/x"),
        ("https://cdn.example/live.m3u8?token=abc&x=1", "https://cdn.example/live.m3u8?token=***&x=1"),
        ("/videos/yard.mp4", "/videos/yard.mp4"),
        # a password holding @: masking stops at the last @ before the host, not the first
        ("rtsp://admin:p@ss@10.0.0.5/live", "rtsp://admin:***@10.0.0.5/live"),
        # credentials in query strings, by any of their usual names (Axis, Hikvision, signed CDN and S3 URLs)
        (
            "http://cam/mjpg?user=root&pass=hunter2&auth=abc&sig=def&access_token=ghi&resolution=640x480",
            "http://cam/mjpg?user=root&pass=***&auth=***&sig=***&access_token=***&resolution=640x480",
        ),
        (
            "https://s3.example/b/k.m3u8?X-Amz-Credential=AKIA&X-Amz-Signature=ff",
            "https://s3.example/b/k.m3u8?X-Amz-Credential=***&X-Amz-Signature=***",
        ),
        ("rtsp://[::1", "rtsp://***"),  # unparsable: nothing of it is shown
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_scrub_masks_urls_inside_messages() -> None:
    message = "cannot open rtsp://u:p4ss@host/s: Connection refused"
    assert scrub(message) == "cannot open rtsp://u:***@host/s: Connection refused"
    assert scrub("open 'rtsp://a:p@ss@h/s?token=t' failed") == "open 'rtsp://a:***@h/s?token=***' failed"
