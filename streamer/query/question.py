"""What a question asks: its time range, the cameras and zones it names (matched against the config), the
detector classes it names (with everyday words: "anyone" is a person, "vehicle" a car, truck, bus or
motorcycle), and the subject left to match by meaning. Flags (--camera, --since, --until) win over the text."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import tzinfo

from streamer.config.root import StreamerConfig
from streamer.query.timeexpr import TimeExpressionError, TimeRange, understand_time
from streamer.timeparse import TimeFormatError, parse_time

SYNONYMS: dict[str, tuple[str, ...]] = {
    "person": (
        "people",
        "persons",
        "someone",
        "somebody",
        "anyone",
        "anybody",
        "everyone",
        "man",
        "men",
        "woman",
        "women",
        "pedestrian",
        "worker",
        "intruder",
        "child",
        "children",
        "kid",
        "guy",
        "visitor",
        "human",
        "he",
        "she",
        "who",
    ),
    "bicycle": ("bike", "cyclist", "biker"),
    "motorcycle": ("motorbike", "scooter", "moped"),
    "truck": ("lorry", "lorries", "van"),
    "car": ("automobile",),
    "vehicle": (),  # resolved below: any road vehicle
}
VEHICLES = ("car", "truck", "bus", "motorcycle")
# words that carry no subject: a question made only of these (and a time) asks "what happened then"
FILLER = frozenset(
    """
a an the any some anything something what whats what's when whens which who whom where how was were is are be been
did do does done has have had happen happened happening there here show me list tell all every events event
activity on in at of for to from by during camera cameras cam please i we you it its it's any everything
going go went see seen saw look looking find get give recorded recording recordings footage video clip
""".split()
)
# with a class or zone, these ask only whether (and when) something was there: the track summary answers
PRESENCE_WORDS = frozenset(
    """
seen visible present appear appeared appears appearing there here around inside zone area spotted detected view
frame picture shown showing in out near
""".split()
)
_UNKNOWN_CAMERA = re.compile(
    r"\b(?:camera|cam)\s+['\"]?([a-z0-9][a-z0-9_-]*)|\b([a-z0-9][a-z0-9_-]*)\s+(?:camera|cam)\b"
)


class QuestionError(ValueError):
    """A question (or flag) that cannot be answered as asked; the message says what to change."""


@dataclass(frozen=True)
class Question:
    text: str  # as asked
    subject: str  # without the time and camera phrases: what is matched by meaning
    cameras: tuple[str, ...]  # to search (named, flagged, or every camera)
    named_cameras: bool
    zones: tuple[str, ...]  # named in the question
    classes: tuple[str, ...]  # detector classes named
    time: TimeRange
    only_time: bool  # nothing but a time (and maybe a camera): list what happened then
    asks_presence: bool = False  # "was anyone in the loading zone", "when was a car on the plaza camera"


def understand(
    text: str,
    config: StreamerConfig,
    tz: tzinfo,
    now: float,
    labels: Iterable[str] = (),
    camera: str | Sequence[str] | None = None,
    since: str | None = None,
    until: str | None = None,
) -> Question:
    asked = " ".join((text or "").split())
    if not asked:
        raise QuestionError(
            'the question is empty; ask for example "when did the person fall" or '
            '"was anyone in the loading zone after 10pm yesterday"'
        )
    try:
        time_range, rest = understand_time(asked, tz, now)
    except TimeExpressionError as error:
        raise QuestionError(f"{error}") from None
    time_range = _with_flags(time_range, tz, now, since, until)
    cameras, rest, named = _cameras(rest, config, camera)
    zones = _zones(rest, config, cameras)
    vocabulary = _vocabulary(config, labels)
    classes = _classes(rest, vocabulary)
    content = [w for w in re.findall(r"[a-z0-9']+", rest) if w not in FILLER]
    zone_words = {part for zone in zones for part in re.split(r"[_\s-]+", zone)}
    beyond_presence = [
        w
        for w in content
        if w not in PRESENCE_WORDS
        and w not in zone_words
        and not _classes_of(w, vocabulary)
        and not _classes_of(_singular(w), vocabulary)
    ]
    return Question(
        asked,
        rest or asked,
        cameras,
        named,
        zones,
        classes,
        time_range,
        only_time=not content and not zones,
        asks_presence=bool(classes or zones) and not beyond_presence,
    )


def _with_flags(parsed: TimeRange, tz: tzinfo, now: float, since: str | None, until: str | None) -> TimeRange:
    """--since/--until replace whatever time the question names (a side not given is open)."""
    if not since and not until:
        return parsed
    try:
        since_ts = parse_time(since, tz, now) if since else None
        until_ts = parse_time(until, tz, now, base=since_ts) if until else None
    except TimeFormatError as error:
        raise QuestionError(f"--since/--until: {error}") from None
    said = tuple(f"--{name} {value}" for name, value in (("since", since), ("until", until)) if value)
    if since_ts is not None and until_ts is not None and until_ts <= since_ts:
        raise QuestionError("the end of the time range is not after its start")
    return TimeRange(since_ts, until_ts, said)


def _variants(name: str) -> list[str]:
    spaced = name.replace("_", " ").replace("-", " ")
    return sorted({name, spaced, spaced.replace(" ", "")}, key=len, reverse=True)


def _find(name: str, text: str) -> re.Match | None:
    for variant in _variants(name):
        match = re.search(rf"(?<![\w-]){re.escape(variant)}(?![\w-])", text)
        if match:
            return match
    return None


def _cameras(text: str, config: StreamerConfig, flag: str | Sequence[str] | None) -> tuple[tuple[str, ...], str, bool]:
    known = list(config.cameras)
    listing = ", ".join(known)
    flags = [flag] if isinstance(flag, str) else list(flag or ())
    if flags:
        for name in flags:
            if name not in config.cameras:
                raise QuestionError(f"unknown camera '{name}'; the cameras are: {listing}")
        return tuple(dict.fromkeys(flags)), text, True
    named = []
    for name in sorted(known, key=len, reverse=True):
        match = _find(name, text)
        if match:
            named.append(name)
            text = text[: match.start()] + " " + text[match.end() :]
    if not named:
        for match in _UNKNOWN_CAMERA.finditer(text):
            word = match.group(1) or match.group(2)
            if word not in FILLER and word not in ("this", "that", "each", "one", "other", "security", "same"):
                raise QuestionError(f"unknown camera '{word}'; the cameras are: {listing}")
    text = re.sub(r"\b(?:on|from|at|in) (?:the )?(?:camera|cam)\b|\b(?:camera|cam)\b", " ", text)
    return (tuple(named) or tuple(known)), " ".join(text.split()), bool(named)


def _zones(text: str, config: StreamerConfig, cameras: tuple[str, ...]) -> tuple[str, ...]:
    names = sorted({zone for camera in cameras for zone in config.cameras[camera].zones}, key=len, reverse=True)
    return tuple(name for name in names if _find(name, text))


def _vocabulary(config: StreamerConfig, labels: Iterable[str]) -> set[str]:
    words = {label.lower() for label in labels}
    for camera in config.cameras.values():
        for spec in (camera.detect.model, *camera.detect.extra_models.values()):
            words.update(name.lower() for name in spec.classes or ())
    return words | {name for name in SYNONYMS if name != "vehicle"}


def _classes(text: str, vocabulary: set[str]) -> tuple[str, ...]:
    words = re.findall(r"[a-z]+", text)
    found: list[str] = []
    for index, word in enumerate(words):
        pair = f"{word} {words[index + 1]}" if index + 1 < len(words) else ""
        for candidate in (pair, word, _singular(word)):
            for name in _classes_of(candidate, vocabulary):
                if name not in found:
                    found.append(name)
    return tuple(found)


def _classes_of(word: str, vocabulary: set[str]) -> list[str]:
    if not word:
        return []
    if word in ("vehicle", "vehicles"):
        return list(VEHICLES)
    if word in vocabulary:
        return [word]
    return [name for name, others in SYNONYMS.items() if word in others or _singular(word) in others]


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word
