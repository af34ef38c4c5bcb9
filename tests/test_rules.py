"""Rules and the event lifecycle on scripted tracks: exact times, one event per occurrence, cooldown, updates.

The boxes are written by hand here (what a detector + ByteTrack would output), so each expected time is exact;
the same rules on real video and real models are in test_events_video.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv

from streamer.config.cameras import CameraConfig
from streamer.events.event import EventState
from streamer.events.lifecycle import EventLifecycle
from streamer.frame import Frame, TrackedFrame

T0 = 1_795_238_700.0  # an absolute wall clock: 2026-11-21T03:25:00Z
STEP = 0.2  # 5 fps
IMAGE = np.zeros((360, 640, 3), dtype=np.uint8)


def tracked(
    index: int,
    boxes: dict[int, tuple[float, float, float, float]],
    name: str = "person",
    extra: dict[str, sv.Detections] | None = None,
) -> TrackedFrame:
    ids = sorted(boxes)
    detections = sv.Detections(
        xyxy=np.array([boxes[i] for i in ids], dtype=np.float32).reshape(-1, 4),
        confidence=np.full(len(ids), 0.8, dtype=np.float32),
        class_id=np.zeros(len(ids), dtype=int),
        tracker_id=np.array(ids, dtype=int),
        data={"class_name": np.array([name] * len(ids), dtype=str)},
    )
    frame = Frame("cam", index, index * STEP, T0 + index * STEP, IMAGE)
    return TrackedFrame(frame, detections, extra or {})


def camera(rules: list[dict], zones: dict | None = None, extra_models: dict | None = None) -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "url": "clip.mp4",
            "rules": rules,
            "zones": zones
            if zones is not None
            else {"door": {"polygon": [[300, 0], [640, 0], [640, 360], [300, 360]]}},
            "detect": {"extra_models": extra_models or {}},
        }
    )


def run(lifecycle: EventLifecycle, frames: list[TrackedFrame], close: bool = True):
    events = [event for item in frames for event in lifecycle.step(item)]
    if close:
        events += lifecycle.close(frames[-1])
    return events


def walker(frames: int, x_of, track_id: int = 1) -> list[TrackedFrame]:
    """A 40x120 box whose left edge is at x_of(index); None means the track is not there."""
    out = []
    for index in range(frames):
        x = x_of(index)
        out.append(tracked(index, {} if x is None else {track_id: (x, 200, x + 40, 320)}))
    return out


def at(index: int) -> float:
    return T0 + index * STEP


def test_zone_intrusion_starts_at_entry_and_ends_when_the_object_leaves():
    # bottom centre = x + 20; it is inside the zone (x >= 300) for frames 10..24, outside from 25
    frames = walker(40, lambda i: 200 + (i - 5) * 20 if i < 25 else 50)
    lifecycle = EventLifecycle.for_camera(
        "cam", camera([{"type": "zone_intrusion", "zone": "door", "min_inside_s": 1.0}])
    )
    events = run(lifecycle, frames)
    assert [e.state for e in events] == [EventState.NEW, EventState.END]
    new, end = events
    assert new.start_ts == pytest.approx(at(10)) and new.observed_ts == pytest.approx(at(15))  # sure after 1 s inside
    assert end.end_ts == pytest.approx(at(25)) and end.event_id == new.event_id
    assert new.zone == "door" and new.track_id == 1 and new.type == "zone_intrusion"


def test_cooldown_makes_a_return_visit_quiet_and_zero_cooldown_reports_it():
    inside, outside = 400, 50
    path = [inside] * 10 + [outside] * 15 + [inside] * 10  # in, out for 3 s, in again
    for cooldown, expected_new in ((30.0, 1), (0.0, 2)):
        rules = [{"type": "zone_intrusion", "zone": "door", "cooldown_s": cooldown, "end_after_s": 1.0}]
        events = run(EventLifecycle.for_camera("cam", camera(rules)), walker(len(path), lambda i: path[i]))
        assert sum(e.state is EventState.NEW for e in events) == expected_new
        assert sum(e.state is EventState.END for e in events) == expected_new


def test_a_missed_detection_shorter_than_end_after_neither_ends_nor_restarts_the_event():
    path = [400] * 30
    path[12] = path[13] = None  # the detector missed the object for 0.4 s
    rules = [{"type": "dwell", "zone": "door", "min_dwell_s": 3.0, "end_after_s": 1.0}]
    events = run(EventLifecycle.for_camera("cam", camera(rules)), walker(len(path), lambda i: path[i]))
    assert [e.state for e in events] == [EventState.NEW, EventState.END]
    assert events[0].type == "dwell" and events[0].start_ts == pytest.approx(at(0))
    assert events[0].observed_ts == pytest.approx(at(15))  # 3 s after the start, gap included
    assert events[1].end_ts == pytest.approx(at(29))  # closed at the last frame


def test_updates_are_throttled_and_only_sent_when_the_box_changed():
    path = [300 + (i % 20) * 10 for i in range(60)]  # pacing back and forth inside the zone for 12 s
    rules = [{"type": "zone_intrusion", "zone": "door", "update_every_s": 5.0}]
    events = run(EventLifecycle.for_camera("cam", camera(rules)), walker(len(path), lambda i: path[i]))
    updates = [e for e in events if e.state is EventState.UPDATE]
    assert len(updates) == 2 and [e.seq for e in events] == [0, 1, 2, 3]
    assert updates[0].observed_ts - events[0].observed_ts == pytest.approx(5.0)
    still = run(EventLifecycle.for_camera("cam", camera(rules)), walker(60, lambda i: 400))
    assert [e.state for e in still] == [EventState.NEW, EventState.END]  # nothing changed: no update


@pytest.mark.parametrize(
    ("direction", "path", "expected"),
    [
        ("in", lambda i: 100 + i * 20, ["crossed_in"]),  # left → right across x = 320
        ("in", lambda i: 500 - i * 20, []),
        ("out", lambda i: 500 - i * 20, ["crossed_out"]),
        ("both", lambda i: 100 + i * 20, ["crossed_in"]),
    ],
)
def test_line_crossing_is_one_instant_event_per_crossing_in_the_asked_direction(direction, path, expected):
    rules = [{"type": "line_crossing", "start": [320, 0], "end": [320, 360], "direction": direction}]
    events = run(EventLifecycle.for_camera("cam", camera(rules, zones={})), walker(25, path))
    assert [e.signal for e in events if e.state is EventState.NEW] == expected
    if expected:
        new, end = events
        assert end.state is EventState.END and end.end_ts == new.start_ts
        crossing = next(i for i in range(25) if path(i) + 20 > 320)  # the first frame with the foot past the line
        assert new.start_ts == pytest.approx(at(crossing))


def test_count_over_threshold_is_one_event_about_the_zone():
    def crowd(index: int) -> TrackedFrame:
        people = 3 if 10 <= index < 20 else 1
        return tracked(index, {k: (320 + 60 * k, 200, 360 + 60 * k, 320) for k in range(people)})

    rules = [{"type": "count", "zone": "door", "max_count": 2, "min_duration_s": 0.4, "end_after_s": 0.0}]
    events = run(EventLifecycle.for_camera("cam", camera(rules)), [crowd(i) for i in range(30)])
    assert [e.state for e in events] == [EventState.NEW, EventState.END]
    assert events[0].track_id is None and events[0].start_ts == pytest.approx(at(10))
    assert events[0].signal == "count>2:3" and events[1].end_ts == pytest.approx(at(20))


def fall_boxes(index: int, fall_at: int) -> tuple[float, float, float, float]:
    """A 50x150 person standing with feet at y=300, tipping over in two frames, then lying 150x50."""
    if index <= fall_at:
        return (300, 150, 350, 300)
    if index == fall_at + 1:
        return (300, 200, 400, 305)
    return (300, 250, 450, 300)


def test_fall_geometry_starts_at_the_last_standing_frame_even_when_the_track_id_changes():
    fall_at = 10
    frames = [tracked(i, {1 if i <= fall_at + 1 else 2: fall_boxes(i, fall_at)}) for i in range(30)]
    rules = [{"type": "fall", "min_down_s": 1.0, "end_after_s": 1.0}]
    events = run(EventLifecycle.for_camera("cam", camera(rules, zones={})), frames)
    assert [e.state for e in events] == [EventState.NEW, EventState.END]
    new = events[0]
    assert new.signal == "geometry" and new.track_id == 2  # ByteTrack gave the lying person a new id
    assert new.start_ts == pytest.approx(at(fall_at))
    assert new.observed_ts == pytest.approx(at(fall_at + 2) + 1.0)  # sure once down for min_down_s


def test_a_person_who_sits_down_slowly_or_stays_upright_is_no_fall():
    crouch = [tracked(i, {1: (300, 150 + 3 * i, 350, 300)}) for i in range(30)]  # shrinking but never wide
    events = run(EventLifecycle.for_camera("cam", camera([{"type": "fall"}], zones={})), crouch)
    assert events == []


def test_fall_model_signal_alone_fires_for_a_track_first_seen_lying():
    lying = (300, 250, 450, 300)
    fall = sv.Detections(
        xyxy=np.array([lying], dtype=np.float32),
        confidence=np.array([0.9], dtype=np.float32),
        class_id=np.array([1]),
        data={"class_name": np.array(["Fall"])},
    )
    frames = [tracked(i, {5: lying}, extra={"fall": fall}) for i in range(15)]
    rules = [{"type": "fall", "fall_model": "fall", "min_down_s": 1.0}]
    extra = {"fall": {"weights": "yolov8-fall.pt"}}
    events = run(EventLifecycle.for_camera("cam", camera(rules, zones={}, extra_models=extra)), frames)
    assert [e.state for e in events] == [EventState.NEW, EventState.END]
    assert events[0].signal == "fall_model" and events[0].start_ts == pytest.approx(at(0))
    assert events[0].confidence == pytest.approx(0.9)  # the fall model is surer than the person detector


def test_event_ids_are_stable_across_messages_and_reproducible_across_runs():
    rules = [{"type": "zone_intrusion", "zone": "door"}]
    first = run(EventLifecycle.for_camera("cam", camera(rules)), walker(20, lambda i: 400))
    again = run(EventLifecycle.for_camera("cam", camera(rules)), walker(20, lambda i: 400))
    assert len({e.event_id for e in first}) == 1
    assert [e.message_id for e in first] == [e.message_id for e in again]


def test_memory_of_ended_events_is_bounded_however_many_subjects_come_and_go():
    """10,000 short-lived tracks. Before: one cooldown entry and one last-end entry per ended event, forever
    (100k events: +27 MB)."""
    from streamer.events.lifecycle import ENDED_MEMORY_S, PRUNE_EVERY_S

    lifecycle = EventLifecycle.for_camera(
        "cam", camera([{"type": "zone_intrusion", "zone": "door", "end_after_s": 0.4}])
    )
    visits, frames_per_visit = 10_000, 10
    peak, ended = 0, 0
    for index in range(visits * frames_per_visit):
        visitor, phase = divmod(index, frames_per_visit)
        boxes = {visitor + 1: (400, 200, 440, 320)} if phase < 5 else {}  # each visitor: a new track in the zone
        ended += sum(event.state is EventState.END for event in lifecycle.step(tracked(index, boxes)))
        peak = max(peak, lifecycle.remembered)
    assert ended == visits
    per_second = 1 / (frames_per_visit * STEP)
    assert peak <= (ENDED_MEMORY_S + 2 * PRUNE_EVERY_S) * per_second + 1  # a window's worth, not all 3000


def test_each_subject_goes_through_explicit_states():
    from streamer.events.lifecycle import SubjectState

    lifecycle = EventLifecycle.for_camera(
        "cam", camera([{"type": "zone_intrusion", "zone": "door", "end_after_s": 0.4, "cooldown_s": 1.0}])
    )
    inside, outside = {1: (400, 200, 440, 320)}, {}
    seen = []
    for index, boxes in enumerate(
        [inside, inside, outside, inside, outside, outside, outside, inside] + [outside] * 3 + [inside] * 2
    ):
        lifecycle.step(tracked(index, boxes))
        seen.append(lifecycle.state_of("zone_intrusion", "track:1"))
    open_, ending, cooldown = SubjectState.OPEN, SubjectState.ENDING, SubjectState.COOLDOWN
    # gone 0.4 s at frame 5 (ends at 0.8 s, the first frame without it); back at 1.4 s: quiet until 1.8 s
    assert seen == [
        open_,
        open_,
        ending,
        open_,
        ending,
        cooldown,
        cooldown,
        cooldown,
        cooldown,
        cooldown,
        cooldown,
        open_,
        open_,
    ]


def test_a_reload_keeps_unchanged_rules_running_and_ends_changed_ones_with_the_reason():
    """Two zones, a person inside both; the config is reloaded with `door` moved and `yard` untouched."""
    zones = {
        "door": {"polygon": [[300, 0], [640, 0], [640, 360], [300, 360]]},
        "yard": {"polygon": [[0, 0], [640, 0], [640, 360], [0, 360]]},
    }
    rules = [
        {"type": "zone_intrusion", "name": "at_door", "zone": "door", "min_inside_s": 0.0},
        {"type": "zone_intrusion", "name": "in_yard", "zone": "yard", "min_inside_s": 0.0},
    ]
    lifecycle = EventLifecycle.for_camera("cam", camera(rules, zones))
    frames = walker(30, lambda i: 400)
    events = run(lifecycle, frames[:10], close=False)
    assert sorted(e.rule for e in events if e.state is EventState.NEW) == ["at_door", "in_yard"]

    moved = {**zones, "door": {"polygon": [[0, 0], [200, 0], [200, 360], [0, 360]]}}  # the person is no longer in it
    ended = lifecycle.reconfigure(camera(rules, moved), frames[9])
    assert [(e.rule, e.state, e.end_reason) for e in ended] == [
        ("at_door", EventState.END, "its rule changed in the config")
    ]
    assert ended[0].end_ts == pytest.approx(at(9))
    later = run(lifecycle, frames[10:20], close=False)
    assert [
        e for e in later if e.state is not EventState.UPDATE
    ] == []  # the yard's event goes on; nobody at the new door

    without_yard = lifecycle.reconfigure(camera(rules[:1], moved), frames[19])
    assert [(e.rule, e.end_reason) for e in without_yard] == [("in_yard", "its rule was removed from the config")]
    assert [rule.name for rule, _ in lifecycle.rules] == ["at_door"] and lifecycle.remembered == 0
    back = lifecycle.reconfigure(camera(rules[:1], zones), frames[19])  # the door as it was: a fresh rule, a new event
    assert back == [] and [e.rule for e in run(lifecycle, frames[20:22], close=False)] == ["at_door"]
    closed = lifecycle.close(frames[21], "the camera was stopped: removed from the config")
    assert [e.end_reason for e in closed] == ["the camera was stopped: removed from the config"]


def test_every_rule_type_is_one_unit_declared_in_its_module() -> None:
    """Each config model of the rules' union has exactly one rule module declaring it (pipelines/kind.py), whose
    event type is the model's `type`, and whose words reach the VLM prompt and the query's phrases."""
    import typing

    from pipelines.phrases import answer_phrase, match_sentences
    from pipelines.prompts import question_for
    from pipelines.registry import kinds
    from streamer.config.rules import RuleConfig

    models = typing.get_args(typing.get_args(RuleConfig)[0])
    declared = {kind.config: kind for kind in kinds().values()}
    assert set(declared) == set(models) and len(kinds()) == len(models)
    for model in models:
        kind = declared[model]
        assert typing.get_args(model.model_fields["type"].annotation) == (kind.event_type,)
        assert question_for(kind.event_type, "person") == kind.question.format(label="person")
        words = {"label": "person", "zone": "dock", "rule": "gate"}
        assert match_sentences(kind.event_type, "person", "dock", "gate") == [
            s.format(**words) for s in kind.match_sentences
        ]
        assert answer_phrase(kind.event_type, "person", "dock", "gate") == kind.answer.format(
            a_label="A person", label="person", zone="dock", rule="gate"
        )
    # a type no module declares gets the generic words
    assert question_for("smoke", "person") == "Does this happen in the clip: a 'smoke' event involving a person?"


def test_a_sink_that_raises_does_not_stop_the_others(caplog) -> None:
    """The sink contract (streamer/events/sinks.py): every call to a sink is isolated, logged and counted; the
    sinks after a broken one still get every event, its close included, and the stage goes on."""
    from streamer import metrics
    from streamer.events.sinks import SinkGuard
    from streamer.events.stage import EventStage

    class Broken:
        def on_events(self, events, tracked) -> None:
            raise RuntimeError("disk on fire")

        def close(self) -> None:
            raise RuntimeError("still on fire")

    class Kept:
        def __init__(self) -> None:
            self.events, self.closed = [], False

        def on_events(self, events, tracked) -> None:
            self.events += events

        def close(self) -> None:
            self.closed = True

    lifecycle = EventLifecycle.for_camera(
        "cam", camera([{"type": "zone_intrusion", "zone": "door", "end_after_s": 0.4}])
    )
    guard, kept = SinkGuard("cam"), Kept()
    stage = EventStage("cam", lifecycle, [Broken(), kept], guard=guard)
    before = metrics.SINK_ERRORS.labels("cam", "Broken")._value.get()
    for index in range(10):
        stage(tracked(index, {1: (400, 100, 450, 300)} if index < 5 else {}))
    stage.close()
    assert [e.state for e in kept.events] == [EventState.NEW, EventState.END] and kept.closed
    assert guard.failures == {"Broken": 3}  # the new, the end, the close
    assert metrics.SINK_ERRORS.labels("cam", "Broken")._value.get() - before == 3
    said = [r for r in caplog.records if r.name == "streamer.sinks"]
    assert len(said) == 1 and said[0].exc_info is not None  # the first failure with its traceback, not every one
