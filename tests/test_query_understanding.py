"""Reading a question: time expressions resolved in the configured zone (across a DST change too), cameras and
zones against the config, detector classes from everyday words, flags over the text, and clear refusals."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from streamer.config import parse_config_text
from streamer.query.question import QuestionError, understand
from streamer.query.timeexpr import understand_time

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 21, 8, 30, tzinfo=BERLIN).timestamp()  # a Saturday


def at(month: int, day: int, hour: int, minute: int = 0) -> float:
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN).timestamp()


@pytest.mark.parametrize(
    ("question", "since", "until", "rest"),
    [
        ("when did the person fall", None, None, "when did the person fall"),
        ("when did the person fall today", at(11, 21, 0), at(11, 22, 0), "when did the person fall"),
        ("did anyone fall yesterday", at(11, 20, 0), at(11, 21, 0), "did anyone fall"),
        # "after 10pm" asked in the morning is last night, and runs through the night
        (
            "was anyone in the loading zone after 10pm yesterday",
            at(11, 20, 22),
            at(11, 21, 6),
            "was anyone in the loading zone",
        ),
        ("was anyone in the loading zone after 10pm", at(11, 20, 22), at(11, 21, 6), "was anyone in the loading zone"),
        ("after 7:15", at(11, 21, 7, 15), at(11, 22, 0), ""),
        ("between 9 and 10", at(11, 20, 9), at(11, 20, 10), ""),  # 9:00 today is still ahead: yesterday's
        ("between 9 and 10pm on monday", at(11, 16, 21), at(11, 16, 22), ""),
        ("from 22:00 to 2am", at(11, 20, 22), at(11, 21, 2), ""),
        ("in the last 2 hours", NOW - 7200, NOW, ""),
        ("last hour", NOW - 3600, NOW, ""),
        ("past 30 minutes", NOW - 1800, NOW, ""),
        ("before 7:15", at(11, 21, 0), at(11, 21, 7, 15), ""),
        ("around 7am", at(11, 21, 6, 30), at(11, 21, 7, 30), ""),
        ("at 14:03", at(11, 20, 13, 48), at(11, 20, 14, 18), ""),
        ("this morning", at(11, 21, 6), at(11, 21, 12), ""),
        ("last night", at(11, 20, 18), at(11, 21, 6), ""),
        ("the day before yesterday", at(11, 19, 0), at(11, 20, 0), ""),
        ("did the car cross on tuesday evening", at(11, 17, 18), at(11, 18, 0), "did the car cross"),
        ("on 2026-11-20", at(11, 20, 0), at(11, 21, 0), "on"),
        ("since 2026-11-20T10:00", at(11, 20, 10), None, ""),
        ("between 2026-11-20T10:00:00+00:00 and 2026-11-20T11:00:00+00:00", at(11, 20, 11), at(11, 20, 12), ""),
    ],
)
def test_time_expressions_resolve_in_the_configured_zone(question: str, since, until, rest: str) -> None:
    parsed, left = understand_time(question, BERLIN, NOW)
    assert (parsed.since, parsed.until) == (since, until)
    assert left == rest


def test_a_day_across_the_dst_change_has_its_real_length() -> None:
    now = datetime(2026, 3, 30, 12, tzinfo=BERLIN).timestamp()
    parsed, _ = understand_time("what happened yesterday", BERLIN, now)  # 29 March 2026: clocks go forward
    assert parsed.until - parsed.since == 23 * 3600


@pytest.mark.parametrize("question", ["at 25:00", "between 10 and 9:99"])
def test_impossible_clock_times_are_refused(question: str) -> None:
    with pytest.raises(ValueError, match="time"):
        understand_time(question, BERLIN, NOW)


CONFIG = parse_config_text(
    """
timezone: Europe/Berlin
cameras:
  lobby: {url: a.mp4, detect: {model: {classes: [person, car, truck]}}}
  loading-dock:
    url: b.mp4
    zones: {loading_zone: {polygon: [[0, 0], [10, 0], [10, 10]]}}
""",
    "test.yaml",
    Path("."),
)


def ask(text: str, **flags):
    return understand(text, CONFIG, BERLIN, NOW, labels=("dog",), **flags)


def test_cameras_zones_and_classes_are_matched_against_the_config() -> None:
    question = ask("was anyone in the loading zone on the loading dock camera after 10pm")
    assert question.cameras == ("loading-dock",) and question.named_cameras
    assert question.zones == ("loading_zone",)
    assert question.classes == ("person",)  # "anyone"
    assert not question.only_time and question.time.since == at(11, 20, 22)


@pytest.mark.parametrize(
    ("text", "classes"),
    [
        ("when did the red car park", ("car",)),
        ("did a vehicle stop", ("car", "truck", "bus", "motorcycle")),
        ("when did the dogs bark", ("dog",)),  # a label seen in the index
        ("when did somebody fall", ("person",)),
        ("was there a fire", ()),
    ],
)
def test_detector_classes_from_everyday_words(text: str, classes: tuple) -> None:
    assert ask(text).classes == classes


def test_flags_override_the_question() -> None:
    question = ask("did anyone fall yesterday on the lobby camera", camera="loading-dock", since="-2h")
    assert question.cameras == ("loading-dock",)
    assert question.time.since == NOW - 7200 and question.time.until is None  # the flags replace 'yesterday'


@pytest.mark.parametrize(
    ("text", "flags", "message"),
    [
        ("", {}, "the question is empty"),
        ("   ", {}, "the question is empty"),
        (
            "when did the person fall on the garage camera",
            {},
            "unknown camera 'garage'; the cameras are: lobby, loading-dock",
        ),
        (
            "when did the person fall",
            {"camera": "garage"},
            "unknown camera 'garage'; the cameras are: lobby, loading-dock",
        ),
        ("when did the person fall", {"since": "yesterday-ish"}, "--since/--until"),
        ("when did the person fall", {"since": "-1h", "until": "-2h"}, "not after its start"),
    ],
)
def test_questions_that_cannot_be_answered_as_asked_say_why(text: str, flags: dict, message: str) -> None:
    with pytest.raises(QuestionError, match=message.replace("(", r"\(")):
        ask(text, **flags)


@pytest.mark.parametrize(
    ("text", "only_time"),
    [
        ("yesterday", True),
        ("what happened between 9 and 10 on the lobby camera", True),
        ("show me everything from last night", True),
        ("did anyone fall last night", False),
    ],
)
def test_a_question_with_only_a_time_asks_what_happened_then(text: str, only_time: bool) -> None:
    assert ask(text).only_time is only_time


@pytest.mark.parametrize(
    ("text", "presence"),
    [
        ("was anyone in the loading zone", True),
        ("when was a car on the lobby camera", True),
        ("when were people seen", True),
        ("when did the person fall", False),
        ("when did the red car park", False),
        ("what happened yesterday", False),
    ],
)
def test_questions_that_ask_only_whether_something_was_there(text: str, presence: bool) -> None:
    assert ask(text).asks_presence is presence
