"""Damaged copies of a video, as a bad disk or a broken network copy makes them."""

from __future__ import annotations

import random
from pathlib import Path


def corrupted_copy(source: Path, target: Path, share: float, seed: int = 7) -> Path:
    """Overwrite `share` of the bytes inside the media data (the mdat box), leaving the container's index whole,
    as a bad disk or a broken network copy would."""
    data = bytearray(source.read_bytes())
    box = data.index(b"mdat") - 4
    start, end = box + 8, box + int.from_bytes(data[box : box + 4], "big")  # the box's payload, not the index after it
    rng = random.Random(seed)
    for position in rng.sample(range(start, end), int(share * (end - start))):
        data[position] = rng.randrange(256)
    target.write_bytes(bytes(data))
    return target
