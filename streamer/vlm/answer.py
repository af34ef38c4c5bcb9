"""The model's answer: extracted from its text (a fenced block, or JSON cut off inside a string repaired), validated
against a strict schema and the clip's window, and never decided by searching the text for a word. What real
Qwen2.5-VL answers look like, and which of their deviations are taken, is in docs/vlm.md (answers the parser meets)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

import json_repair
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from streamer.config.vlm import RISK_ORDER, RiskLevel
from streamer.core.text import plain_text

_FENCED = re.compile(r"```(?:json)?\s*(.*?)(?:```|$)", re.DOTALL | re.IGNORECASE)


REFUSALS = {
    "no_json": "no JSON in the answer (prose, a table, markup): a verdict is never read from words",
    "not_an_answer": "JSON, but not the answer asked for (a list of other things, an object without a verdict)",
    "truncated": "cut off (the token limit) inside a number or before its verdict and times were complete",
    "schema": "a verdict, but a field is missing, unknown or of the wrong kind",
    "policy": "a confirmed verdict that names no event",
    "out_of_window": "times outside the clip (asked again with the clip's length)",
}


class AnswerError(ValueError):
    """Why an answer was not taken: one of REFUSALS (or `backend` when no answer came at all)."""

    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


_CLOCK = re.compile(
    r"^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)s?$"
)  # hh:mm:ss.ff or mm:ss.ff, as Qwen2.5-VL writes hmsf
_SECONDS = re.compile(r"^(\d+(?:\.\d+)?)\s*(?:s|secs?|seconds?)?$", re.IGNORECASE)


def seconds_of(value: object) -> float:
    """A time as Qwen2.5-VL writes one: a number of seconds, "3.2s", or hmsf ("01:23.45", "1:02:03.5"), the two
    formats it was trained on. Anything else raises ValueError."""
    if isinstance(value, bool):
        raise ValueError("a time, not true/false")
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"a time in seconds or mm:ss.ff, not {type(value).__name__}")
    text = value.strip()
    clock = _CLOCK.match(text)
    if clock:
        hours, minutes, seconds = clock.groups()
        if int(minutes) >= 60 or float(seconds) >= 60:
            raise ValueError(f"{value!r} is not a time of day on a clip's clock")
        return int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    plain = _SECONDS.match(text)
    if plain:
        return float(plain.group(1))
    raise ValueError(f"{value!r} is not a time in seconds or mm:ss.ff")


class AnsweredEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    label: str = Field(min_length=1, max_length=200)
    start_time: float = Field(ge=0)
    end_time: float = Field(ge=0)
    risk_level: RiskLevel
    description: str = Field(min_length=1, max_length=2000)
    bbox_2d: tuple[float, float, float, float] | None = None

    @field_validator("start_time", "end_time", mode="before")
    @classmethod
    def _time(cls, value: object) -> float:
        return seconds_of(value)

    @field_validator("label", "description")
    @classmethod
    def _plain(cls, value: str) -> str:
        return plain_text(value)  # the model's words leave as text: no terminal escapes, no bidi tricks

    @model_validator(mode="after")
    def _ordered(self) -> "AnsweredEvent":
        if self.end_time < self.start_time:
            raise ValueError("end_time is before start_time")
        if self.bbox_2d is not None:
            x1, y1, x2, y2 = self.bbox_2d
            if x2 <= x1 or y2 <= y1:
                raise ValueError("bbox_2d must be [x1, y1, x2, y2] with x1 < x2 and y1 < y2")
        return self


class VlmAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    verdict: Literal["confirmed", "rejected"]
    events: list[AnsweredEvent] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _policy(self) -> "VlmAnswer":
        if self.verdict == "confirmed" and not self.events:
            raise ValueError("a confirmed verdict must name the event it saw, with its times")
        return self

    @property
    def main_event(self) -> AnsweredEvent | None:
        """The riskiest event, the earliest among equals."""
        if not self.events:
            return None
        return max(self.events, key=lambda e: (RISK_ORDER[e.risk_level], -e.start_time))


@dataclass(frozen=True)
class Extracted:
    value: object  # the parsed JSON value
    cut: bool  # the reply ended before its brackets closed, and was repaired


def extract_json(text: str) -> Extracted:
    """The JSON value in a reply: a ```json fenced block when there is one, else from the first '{' or '['. Prose
    after it is ignored; JSON with a trailing comma is read; a reply cut off by the token limit is closed."""
    fenced = _FENCED.search(text)
    body = fenced.group(1) if fenced else text
    start = min((i for i in (body.find("{"), body.find("[")) if i >= 0), default=-1)
    if start < 0:
        raise AnswerError("no_json", f"no JSON in the answer: {_opening(text)}")
    body = body[start:].strip()
    try:
        return Extracted(json.loads(body), cut=False)
    except json.JSONDecodeError:
        pass
    balanced = _balanced_prefix(body)
    if balanced is None:
        if _ends_in_number(body):
            raise AnswerError("truncated", f"the answer stops inside a number: …{body[-40:]!r}")
        return Extracted(json_repair.loads(body), cut=True)
    try:
        return Extracted(json.loads(balanced), cut=False)
    except json.JSONDecodeError:
        return Extracted(json_repair.loads(balanced), cut=False)  # a trailing comma, single quotes


def extract_object(text: str) -> tuple[dict, bool]:
    """The answer object and whether it was cut; a one-item list holding it is unwrapped."""
    extracted = extract_json(text)
    value = extracted.value
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict) and "verdict" in value[0]:
        value = value[0]
    if isinstance(value, list):
        raise AnswerError("not_an_answer", f"a JSON list of {len(value)} items, not one object with a verdict")
    if not isinstance(value, dict) or not value:
        raise AnswerError("truncated" if extracted.cut else "not_an_answer", "the answer is not a JSON object")
    if "verdict" not in value:
        kind = "truncated" if extracted.cut else "not_an_answer"
        keys = ", ".join(list(map(str, value))[:6])
        raise AnswerError(kind, f"a JSON object without a verdict (keys: {keys})")
    return value, extracted.cut


def _opening(text: str) -> str:
    words = " ".join(text.split())
    return repr(words[:60] + ("…" if len(words) > 60 else ""))


def _ends_in_number(body: str) -> bool:
    """A cut inside a number cannot be closed without guessing its digits (4 could have been 4.5)."""
    return bool(re.search(r"[:\[,]\s*-?\d[\d.eE+-]*$", body.rstrip()))


def _balanced_prefix(body: str) -> str | None:
    """The balanced value at the start of `body` (a reply may add prose after it), or None when it never closes."""
    depth, in_string, escaped = 0, False, False
    for index, char in enumerate(body):
        if in_string:
            escaped = char == "\\" and not escaped
            if char == '"' and not escaped:
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return body[: index + 1]
    return None


def parse_answer(text: str, duration_s: float, tolerance_s: float) -> VlmAnswer:
    """Raises AnswerError; `out_of_window` is the one worth asking again."""
    raw, cut = extract_object(text)
    try:
        answer = VlmAnswer.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        kind = "policy" if "confirmed verdict" in first["msg"] else "truncated" if cut else "schema"
        raise AnswerError(kind, f"{where}: {first['msg']}".strip(": ")) from None
    for event in answer.events:
        if event.end_time > duration_s + tolerance_s:
            raise AnswerError(
                "out_of_window", f"{event.label!r} ends at {event.end_time:g} s; the clip lasts {duration_s:.1f} s"
            )
    return answer
