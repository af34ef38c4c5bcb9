"""The engine's batching rules on their own: fair between cameras, bounded, in order, never waiting past the
deadline, and at once when nothing else can come."""

from __future__ import annotations

from collections import Counter

import pytest

from streamer.engine.batcher import FairBatcher


def test_a_fast_camera_cannot_starve_a_slow_one() -> None:
    """25 frames of a 25 fps camera are waiting when the 1 fps camera's one frame arrives: it is in the very next
    batch, and over a second of traffic each batch takes the slow camera's frame before the fast camera's third."""
    batcher: FairBatcher[int] = FairBatcher(max_batch=4, max_wait_s=0.01)
    for n in range(25):
        batcher.add("fast", n, now=n / 25)
    batcher.add("slow", 0, now=1.0)
    first = batcher.take()
    assert [w.camera for w in first].count("slow") == 1
    assert [w.item for w in first if w.camera == "fast"] == [0, 1, 2]  # the fast camera's frames stay in order


def test_round_robin_shares_each_batch_evenly() -> None:
    batcher: FairBatcher[int] = FairBatcher(max_batch=6, max_wait_s=0.01)
    for camera in ("a", "b", "c"):
        for n in range(10):
            batcher.add(camera, n, now=0.0)
    taken = Counter()
    order: dict[str, list[int]] = {"a": [], "b": [], "c": []}
    while len(batcher):
        batch = batcher.take()
        assert len(batch) <= 6
        taken.update(w.camera for w in batch)
        for w in batch:
            order[w.camera].append(w.item)
        assert max(Counter(w.camera for w in batch).values()) - min(Counter(w.camera for w in batch).values()) <= 1
    assert taken == {"a": 10, "b": 10, "c": 10}
    assert all(items == list(range(10)) for items in order.values())


@pytest.mark.parametrize(
    ("waiting", "age_s", "capacity", "ready"),
    [
        (0, 1.0, 8, False),  # nothing waits
        (1, 0.0, 8, False),  # one frame, others may still come, deadline not reached
        (1, 0.011, 8, True),  # the deadline passed
        (4, 0.0, 4, True),  # every frame the cameras may send is here
        (8, 0.0, 16, True),  # a full batch
        (7, 0.005, 16, False),
    ],
)
def test_when_a_batch_goes(waiting: int, age_s: float, capacity: int, ready: bool) -> None:
    batcher: FairBatcher[int] = FairBatcher(max_batch=8, max_wait_s=0.01)
    for n in range(waiting):
        batcher.add(f"cam{n % 2}", n, now=0.0)
    assert batcher.ready(now=age_s, capacity=capacity) is ready


def test_time_left_counts_down_from_the_oldest_frame() -> None:
    batcher: FairBatcher[int] = FairBatcher(max_batch=8, max_wait_s=0.02)
    assert batcher.time_left(5.0) is None
    batcher.add("a", 1, now=1.000)
    batcher.add("b", 2, now=1.015)
    assert batcher.time_left(1.005) == pytest.approx(0.015)
    assert batcher.time_left(2.0) == 0.0


def test_a_camera_that_goes_away_takes_its_frames_with_it() -> None:
    batcher: FairBatcher[int] = FairBatcher(max_batch=8, max_wait_s=0.01)
    for n in range(3):
        batcher.add("gone", n, now=0.0)
    batcher.add("stays", 9, now=0.0)
    assert batcher.forget("gone") == [0, 1, 2]
    assert [w.item for w in batcher.take()] == [9]
