"""Which frames each event sends to the VLM: clip windows with exact wall-clock times, on a 1/fps grid, from
frames at the detection rate."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv

from streamer.config.cameras import CameraConfig
from streamer.config.vlm import VlmConfig
from streamer.events.event import Event, EventState
from streamer.frame import Frame, TrackedFrame
from streamer.vlm.sampler import VlmSampler

T0 = 1795251600.0


def tracked(index: int, wall: float) -> TrackedFrame:
    detections = sv.Detections(
        xyxy=np.array([[10.0, 20.0, 50.0, 120.0]]),
        confidence=np.array([0.9]),
        class_id=np.array([0]),
        tracker_id=np.array([7]),
        data={"class_name": np.array(["person"])},
    )
    return TrackedFrame(Frame("lobby", index, wall - T0, wall, np.zeros((1080, 1920, 3), np.uint8)), detections)


def event(state: EventState, start: float, end: float | None, observed: float) -> Event:
    return Event(
        "lobby-1",
        0,
        state,
        "lobby",
        "fall",
        "fall",
        "person",
        7,
        start,
        end,
        0.9,
        (10, 20, 50, 120),
        (1920, 1080),
        "geometry",
        None,
        observed,
        0,
    )


def play(sampler: VlmSampler, seconds: float, detect_fps: float = 5.0, on=None) -> None:
    for index in range(int(seconds * detect_fps)):
        wall = T0 + index / detect_fps + 0.013  # frames off the grid, as real capture times are
        sampler.add_frame(tracked(index, wall))
        if on is not None:
            on(wall)


@pytest.fixture()
def sent():
    return []


def sampler_for(sent: list, **sampling) -> VlmSampler:
    vlm = VlmConfig.model_validate({"backend": "transformers", "sampling": sampling})
    return VlmSampler(
        "lobby", CameraConfig(url="x.mp4"), vlm, sent.append, alert_json=lambda e: f"alert of {e.event_id}"
    )


def test_new_event_sends_pre_to_post_on_the_fps_grid(sent) -> None:
    sampler = sampler_for(sent)
    raised = []

    def on(wall: float) -> None:
        if not raised and wall >= T0 + 5.4:
            sampler.on_events([event(EventState.NEW, T0 + 4.4, None, wall)], None)
            raised.append(wall)

    play(sampler, 20, on=on)
    (request,) = sent
    assert request.job_id == "lobby-1-new" and request.alert_json == "alert of lobby-1"
    assert request.start_ts == pytest.approx(T0 + 1.4) and request.end_ts == pytest.approx(raised[0] + 3.0)
    times = [f.wall_ts - T0 for f in request.frames]
    assert times[0] == pytest.approx(1.413, abs=1e-3) and len(times) == 14  # slots 1.5 … 8.0 s (end 8.413, exclusive)
    assert all(abs(t - round(t * 2) / 2) <= 0.1 + 1e-9 for t in times)  # within half a detect interval of the grid
    assert request.frames[0].image.shape == (280, 504, 3)  # 1080p in the default pixel budget
    assert request.frames[0].boxes[0].track_id == 7 and request.frames[0].frame_wh == (1920, 1080)


def test_long_event_sends_its_last_part_at_end_and_a_short_one_does_not(sent) -> None:
    sampler = sampler_for(sent, fps=1.0, max_window_s=20)
    play(sampler, 3)
    sampler.on_events([event(EventState.NEW, T0 + 1.0, None, T0 + 2.0)], None)
    play_from = [T0 + 3.0]

    def more(seconds: float) -> None:
        for step in range(int(seconds * 5)):
            wall = play_from[0] + step / 5
            sampler.add_frame(tracked(step, wall))
        play_from[0] += seconds

    more(40)
    sampler.on_events([event(EventState.END, T0 + 1.0, T0 + 38.0, T0 + 40.0)], None)
    more(5)
    new, end = sent
    assert end.job_id == "lobby-1-end" and end.end_ts == pytest.approx(T0 + 41.0)
    assert end.start_ts == pytest.approx(T0 + 21.0)  # capped at max_window_s
    assert len(end.frames) == 20 and 1.0 - 1e-6 <= end.frames[1].wall_ts - end.frames[0].wall_ts <= 1.0 + 1e-6


def test_stream_end_sends_what_waits_with_the_frames_there_are(sent) -> None:
    sampler = sampler_for(sent)
    play(sampler, 6)
    sampler.on_events([event(EventState.NEW, T0 + 5.0, None, T0 + 5.8)], None)
    assert sent == []
    sampler.close()
    (request,) = sent
    assert request.frames[-1].wall_ts <= T0 + 6.0 and request.frames[0].wall_ts >= T0 + 2.0
