"""`detect.motion`: the cheap check that decides which sampled frames the detector sees."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from streamer.config.base import Point, StrictModel

Polygon = Annotated[list[Point], Field(min_length=3, max_length=1000)]


class MotionConfig(StrictModel):
    """A running-average background on a small grayscale copy of each sampled frame; the detector runs on a frame
    with motion, while any track is alive, and every `detect.keyframe_s` regardless."""

    enabled: bool = Field(
        True,
        description="Detect only where and when something moves (see docs/cameras.md); "
        "false: every sampled frame goes to the detector.",
    )
    frame_height: int = Field(
        100,
        ge=32,
        le=720,
        description="Height in pixels of the grayscale copy the check runs on (the width follows the frame's aspect).",
    )
    threshold: int = Field(
        25,
        ge=1,
        le=255,
        description="Change of a pixel (0-255, after contrast normalising) "
        "from the background that counts as motion: above sensor and compression noise.",
    )
    contour_area: int = Field(
        12,
        ge=1,
        le=100_000,
        description="Smallest area of a moving blob, in pixels of the "
        "small copy, that counts: smaller ones are noise, rain or insects.",
    )
    learning_rate: float = Field(
        0.02,
        gt=0,
        le=1,
        description="How fast the background follows a still scene (slow "
        "changes of light), per sampled frame; a change that stays for 10 frames (a parked "
        "car) is taken in faster.",
    )
    lighting_change: float = Field(
        0.5,
        gt=0,
        le=1,
        description="A change over more than this part of the frame is "
        "the light (headlights, the infrared switch), not motion: the background "
        "starts again from that frame.",
    )
    masks: list[Polygon] = Field(
        default_factory=list,
        max_length=100,
        description="Polygons in source-frame "
        "pixels where motion is ignored (a clock overlay, a tree); objects there are "
        "still detected when the detector runs.",
    )
