"""Time expressions inside a question, resolved in the configured zone: `today`, `yesterday`, `this morning`,
`last night`, weekdays, `last 2 hours`, `10 minutes ago`, `after 10pm`, `before 9:30`, `between 9 and 10`,
`from 22:00 to 2am`, `at 14:03`, and ISO dates and times. Returns the range and the question without them.

Clock times without a day mean their most recent occurrence ("after 10pm" asked at 08:00 is last night).
"After" an evening time runs through the night, to 06:00 the next morning; otherwise to the end of its day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_WORD_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "few": 3,
    "couple of": 2,
}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_PARTS = {"morning": (6, 12), "afternoon": (12, 18), "evening": (18, 24), "night": (18, 30)}
NIGHT_STARTS_H, NIGHT_ENDS_H = 18, 6
AROUND_S = {True: 15 * 60, False: 30 * 60}  # "at 14:03" ± 15 min, "at 2pm" ± 30 min

_NUM = (
    r"(\d+(?:\.\d+)?|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty"
    r"|few|couple of)"
)
_UNIT = r"(seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?)"
_ISO = r"\d{4}-\d\d-\d\d(?:[t ]\d{1,2}:\d\d(?::\d\d(?:\.\d+)?)?(?:z|[+-]\d\d:?\d\d)?)?"
_CLOCK = r"(?:\d{1,2}(?::\d\d){0,2}\s*(?:am|pm|a\.m\.|p\.m\.|h)?|noon|midnight)"
_POINT = rf"(?:{_ISO}|{_CLOCK})"

_RELATIVE = re.compile(
    rf"\b(?:in |during |over |within |for )?(?:the )?(?:last|past|previous)\s+(?:{_NUM}\s+)?{_UNIT}\b"
)
_AGO = re.compile(rf"\b{_NUM}\s+{_UNIT}\s+ago\b")
_BETWEEN = re.compile(rf"\b(?:between|from)\s+({_POINT})\s+(?:and|to|until|till|-)\s+({_POINT})(?![\w:])")
_AFTER = re.compile(rf"\b(?:after|since|from|later than)\s+({_POINT})(?![\w:])")
_BEFORE = re.compile(rf"\b(?:before|until|till|by|earlier than)\s+({_POINT})(?![\w:])")
_AT = re.compile(rf"\b(?:at|around|about)\s+({_POINT})(?![\w:])")
_BARE_ISO = re.compile(rf"(?<![\w-])({_ISO})(?![\w:])")
_DAY = re.compile(
    r"\b(?:(?:the )?day before yesterday|yesterday|today|tomorrow|tonight|last night"
    r"|this (?:morning|afternoon|evening)|"
    r"(?:on |last |this )?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?)"
    r"(?: (?:morning|afternoon|evening|night))?\b"
)
_CLOCK_PARTS = re.compile(r"^(\d{1,2})(?::(\d\d))?(?::(\d\d))?\s*(am|pm|a\.m\.|p\.m\.|h)?$")


class TimeExpressionError(ValueError):
    pass


@dataclass(frozen=True)
class TimeRange:
    since: float | None  # epoch seconds; None: from the oldest recording
    until: float | None  # None: up to now
    said: tuple[str, ...] = ()  # the phrases that set it, as found in the question

    @property
    def empty(self) -> bool:
        return self.since is None and self.until is None


@dataclass(frozen=True)
class _Clock:
    hour: int
    minute: int
    second: int
    meridiem: str | None  # am | pm | None
    exact: bool  # minutes were written


def understand_time(question: str, tz: tzinfo, now: float) -> tuple[TimeRange, str]:
    """The range the question names (open ends are None) and the question with the time phrases taken out."""
    text = question.lower()
    said: list[str] = []

    def take(match: re.Match) -> None:
        nonlocal text
        said.append(match.group(0).strip())
        text = text[: match.start()] + " " + text[match.end() :]

    today = datetime.fromtimestamp(now, tz).date()
    if match := _RELATIVE.search(text) or _AGO.search(text):
        amount = _number(match.group(1)) * _UNIT_S[match.group(2)[0]]
        take(match)
        since, until = (
            (now - amount, now) if match.re is _RELATIVE else (now - amount - amount / 4, now - amount + amount / 4)
        )
        return TimeRange(since, until, tuple(said)), _tidy(text)
    day, part = None, None
    if match := _DAY.search(text):
        day, part = _day_of(match.group(0), today)
        take(match)
    since = until = None
    if match := _BETWEEN.search(text):
        take(match)
        since, until = _between(match.group(1), match.group(2), day, tz, now)
    elif match := _AFTER.search(text):
        take(match)
        since, until = _after(match.group(1), day, tz, now)
    elif match := _BEFORE.search(text):
        take(match)
        start = _point(match.group(1), day, tz, now)
        since, until = _day_start(day or datetime.fromtimestamp(start, tz).date(), tz), start
    elif (match := _AT.search(text)) or (match := _BARE_ISO.search(text)):
        take(match)
        since, until = _around(match.group(1), day, tz, now)
    elif day is not None:
        start_h, end_h = part or (0, 24)
        since, until = _at_hour(day, start_h, tz), _at_hour(day, end_h, tz)
    if until is not None and since is not None and until <= since:
        raise TimeExpressionError(f"the time range '{' '.join(said)}' ends before it starts")
    return TimeRange(since, until, tuple(said)), _tidy(text)


def _number(word: str | None) -> float:
    if word is None:
        return 1.0
    return _WORD_NUMBERS[word] if word in _WORD_NUMBERS else float(word)


def _day_of(phrase: str, today: date) -> tuple[date, tuple[int, int] | None]:
    words = phrase.split()
    part = _PARTS.get(words[-1]) if words[-1] in _PARTS else None
    if "night" in words and "last" in words:
        return today - timedelta(days=1), _PARTS["night"]
    if "tonight" in words:
        return today, _PARTS["night"]
    if "before" in words:
        return today - timedelta(days=2), part
    if "tomorrow" in words:
        return today + timedelta(days=1), part
    if "yesterday" in words:
        return today - timedelta(days=1), part
    if "today" in words or "this" in words and words[1] in _PARTS:
        return today, part
    weekday = next(w.rstrip("s") for w in words if w.rstrip("s") in _WEEKDAYS)
    back = (today.weekday() - _WEEKDAYS.index(weekday)) % 7 or (7 if words[0] == "last" else 0)
    return today - timedelta(days=back), part


def _clock(text: str) -> _Clock:
    text = text.strip()
    if text in ("noon", "midnight"):
        return _Clock(12 if text == "noon" else 0, 0, 0, None, True)
    parts = _CLOCK_PARTS.match(text)
    if parts is None:
        raise TimeExpressionError(f"cannot read the time '{text}'")
    hour, minute, second = int(parts.group(1)), int(parts.group(2) or 0), int(parts.group(3) or 0)
    meridiem = None if parts.group(4) in (None, "h") else parts.group(4).replace(".", "")
    if meridiem and not 1 <= hour <= 12 or hour > 24 or minute > 59 or second > 59:
        raise TimeExpressionError(f"'{text}' is not a time of day")
    return _Clock(hour, minute, second, meridiem, parts.group(2) is not None)


def _hour24(clock: _Clock) -> int:
    if clock.meridiem is None:
        return clock.hour
    return clock.hour % 12 + (12 if clock.meridiem == "pm" else 0)


def _at_hour(day: date, hour: float, tz: tzinfo) -> float:
    whole = int(hour)
    moment = datetime.combine(day + timedelta(days=whole // 24), time(whole % 24), tzinfo=tz)
    return moment.timestamp() + (hour - whole) * 3600


def _day_start(day: date, tz: tzinfo) -> float:
    return _at_hour(day, 0, tz)


def _on_day(clock: _Clock, day: date | None, tz: tzinfo, now: float, hour: int | None = None) -> float:
    """The clock time on `day`, or (no day named) its most recent occurrence before now."""
    hour = _hour24(clock) if hour is None else hour
    base = day or datetime.fromtimestamp(now, tz).date()
    moment = datetime.combine(base, time(hour % 24, clock.minute, clock.second), tzinfo=tz) + timedelta(days=hour // 24)
    if day is None and moment.timestamp() > now:
        moment -= timedelta(days=1)
    return moment.timestamp()


def _point(text: str, day: date | None, tz: tzinfo, now: float) -> float:
    if re.match(r"\d{4}-", text):
        return _iso(text, tz)
    return _on_day(_clock(text), day, tz, now)


def _iso(text: str, tz: tzinfo) -> float:
    value = text.upper().replace(" ", "T", 1)
    parsed = datetime.fromisoformat(value)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)).timestamp()


def _between(first: str, second: str, day: date | None, tz: tzinfo, now: float) -> tuple[float, float]:
    if re.match(r"\d{4}-", first) or re.match(r"\d{4}-", second):
        return _point(first, day, tz, now), _point(second, day, tz, now)
    start, end = _clock(first), _clock(second)
    start_h, end_h = _hour24(start), _hour24(end)
    if start.meridiem is None and end.meridiem == "pm" and start_h < 12 and start_h + 12 <= end_h:
        start_h += 12  # "between 9 and 10pm"
    since = _on_day(start, day, tz, now, start_h)
    if end_h * 60 + end.minute <= start_h * 60 + start.minute:
        end_h += 24  # "between 10pm and 2am" runs overnight
    base = datetime.fromtimestamp(since, tz).date()
    return since, _on_day(end, base, tz, now, end_h)


def _after(text: str, day: date | None, tz: tzinfo, now: float) -> tuple[float, float | None]:
    since = _point(text, day, tz, now)
    if re.match(r"\d{4}-", text):
        return since, None
    start = datetime.fromtimestamp(since, tz)
    end_h = 24 + NIGHT_ENDS_H if start.hour >= NIGHT_STARTS_H else 24
    return since, _at_hour(start.date(), end_h, tz)  # may lie ahead: the caller stops the range at now


def _around(text: str, day: date | None, tz: tzinfo, now: float) -> tuple[float, float]:
    if re.match(r"\d{4}-\d\d-\d\d$", text.strip()):
        start = _day_start(date.fromisoformat(text.strip()), tz)
        return start, _at_hour(date.fromisoformat(text.strip()), 24, tz)
    moment = _point(text, day, tz, now)
    exact = bool(re.match(r"\d{4}-", text)) or _clock(text).exact
    return moment - AROUND_S[exact], moment + AROUND_S[exact]


def _tidy(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip(" ,.;")
