"""The model's answer: extracted from its text (a fenced block, or truncated JSON repaired), validated against a
strict schema and the clip's window, and never decided by searching the text for a word."""

from __future__ import annotations

import json
import re
from typing import Literal

import json_repair
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from streamer.config.vlm import RISK_ORDER, RiskLevel
from streamer.core.text import plain_text

_FENCED = re.compile(r"```(?:json)?\s*(.*?)(?:```|$)", re.DOTALL | re.IGNORECASE)


class AnswerError(ValueError):
    """Why an answer was not taken: malformed (no JSON object), schema, policy or out_of_window."""

    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


class AnsweredEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    label: str = Field(min_length=1, max_length=200)
    start_time: float = Field(ge=0)
    end_time: float = Field(ge=0)
    risk_level: RiskLevel
    description: str = Field(min_length=1, max_length=2000)
    bbox_2d: tuple[float, float, float, float] | None = None

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


def extract_object(text: str) -> dict:
    """The JSON object in a reply: a ```json fenced block when there is one, else from the first '{'; a reply cut
    off by the token limit is repaired (closing strings, lists and objects)."""
    fenced = _FENCED.search(text)
    body = fenced.group(1) if fenced else text
    start = body.find("{")
    if start < 0:
        raise AnswerError("malformed", "no JSON object in the answer")
    body = body[start:].strip()
    try:
        value = json.loads(body)
    except json.JSONDecodeError:
        try:
            value = json.loads(_first_object(body))
        except (json.JSONDecodeError, ValueError):
            value = json_repair.loads(body)
    if not isinstance(value, dict) or not value:
        raise AnswerError("malformed", "the answer is not a JSON object")
    return value


def _first_object(body: str) -> str:
    """The balanced object at the start of `body` (a reply may add prose after it)."""
    depth, in_string, escaped = 0, False, False
    for index, char in enumerate(body):
        if in_string:
            escaped = char == "\\" and not escaped
            if char == '"' and not escaped:
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return body[: index + 1]
    raise ValueError("unbalanced")


def parse_answer(text: str, duration_s: float, tolerance_s: float) -> VlmAnswer:
    """Raises AnswerError; `out_of_window` is the one worth asking again."""
    raw = extract_object(text)
    try:
        answer = VlmAnswer.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        kind = "policy" if "confirmed verdict" in first["msg"] else "schema"
        raise AnswerError(kind, f"{where}: {first['msg']}".strip(": ")) from None
    for event in answer.events:
        if event.end_time > duration_s + tolerance_s:
            raise AnswerError("out_of_window", f"{event.label!r} ends at {event.end_time:g} s; the clip lasts {duration_s:.1f} s")
    return answer
