"""Times on the command line: ISO 8601 (a time without offset is in the configured zone), epoch seconds,
`now`, and relative forms: `-10m` is ten minutes ago; `+30s` is thirty seconds after a base (an --end after --start)."""

from __future__ import annotations

import re
import time
from datetime import datetime, tzinfo

_RELATIVE = re.compile(
    r"^([+-])\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|m|min|mins|h|hr|hrs|d|day|days|w|wk|weeks?)$", re.IGNORECASE
)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_EPOCH_MIN = 100_000_000  # 1973: smaller numbers are not meant as epoch seconds
_EPOCH_MIN_SHOWN = 0.0
_EPOCH_MAX = 253_402_300_799.0  # 9999-12-31T23:59:59Z, the last second a datetime can show


class TimeFormatError(ValueError):
    pass


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|sec|secs|m|min|mins|h|hr|hrs|d|day|days|w|wk|weeks?)$", re.IGNORECASE)


def parse_duration(text: str) -> float:
    """Seconds in a length of time: `30s`, `15m`, `12h`, `90d`, `2w`."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise TimeFormatError(
            f"cannot read the length {text.strip()!r}: a number and a unit, like 30s, 15m, 12h, 90d, 2w"
        )
    return float(match[1]) * _UNIT_S[match[2][0].lower()]


def parse_time(text: str, tz: tzinfo, now: float | None = None, base: float | None = None) -> float:
    """Epoch seconds. `base` is what a `+N` offset counts from (default: now)."""
    ts = _parse(text, tz, time.time() if now is None else now, base)
    if not _EPOCH_MIN_SHOWN <= ts <= _EPOCH_MAX:  # every answer shows its times as dates: they must be dates
        raise TimeFormatError(f"{text.strip()!r} is outside the years 1970 to 9999")
    return ts


def _parse(text: str, tz: tzinfo, now: float, base: float | None) -> float:
    value = text.strip()
    if not value:
        raise TimeFormatError("empty time")
    if value.lower() == "now":
        return now
    relative = _RELATIVE.match(value)
    if relative:
        sign, amount, unit = relative.groups()
        seconds = float(amount) * _UNIT_S[unit[0].lower()]
        if seconds > _EPOCH_MAX:
            raise TimeFormatError(f"{value!r} is further than any date")
        return (now - seconds) if sign == "-" else ((base if base is not None else now) + seconds)
    if re.fullmatch(r"\d+(\.\d+)?", value):
        epoch = float(value)
        if epoch < _EPOCH_MIN:
            raise TimeFormatError(f"{value!r} is too small for epoch seconds; write a date (ISO 8601) or e.g. -10m")
        return epoch
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "T", 1) if re.match(r"\d{4}-\d\d-\d\d \d", value) else value)
    except ValueError:
        raise TimeFormatError(
            f"cannot read time {value!r}: use ISO 8601 (2026-11-21T14:03:00, with or without offset), "
            "epoch seconds, 'now', or relative forms like -10m, -2h, -1d"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.timestamp()
