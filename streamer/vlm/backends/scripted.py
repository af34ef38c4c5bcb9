"""A test double, not a model: replays answers from a YAML file so that tests and demos can exercise the VLM
stage's semantics (times, retries, malformed answers) where no Qwen2.5-VL weights can run.

The file maps an event type ("watch" for watch jobs, "*" for any) to a list of answers, used in turn; the last
one repeats. An answer may be text, or a mapping that is sent as its JSON. `{error: "..."}` fails the request,
and `{delay_s: N, answer: ...}` answers after N seconds (a slow model, for fault tests).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

from streamer.vlm.backends.contract import VlmReply, VlmRequest


class ScriptedError(RuntimeError):
    pass


class ScriptedTestDouble:
    model_name = "scripted-test-double"

    def __init__(self, answers: dict[str, list]):
        if not answers or not all(isinstance(v, list) and v for v in answers.values()):
            raise ValueError("scripted answers: a mapping of event type to a non-empty list of answers")
        self.answers = answers
        self._used: dict[str, int] = {}
        self._lock = threading.Lock()
        self.requests: list[VlmRequest] = []  # what it was asked, for tests

    @classmethod
    def from_file(cls, path: Path) -> "ScriptedTestDouble":
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise ValueError(f"scripted answers {path}: {error}") from None
        if not isinstance(loaded, dict):
            raise ValueError(f"scripted answers {path}: expected a mapping of event type to answers")
        return cls({str(k): v for k, v in loaded.items()})

    def answer(self, requests: Sequence[VlmRequest]) -> list[VlmReply | Exception]:
        return [self._one(request) for request in requests]

    def _one(self, request: VlmRequest) -> VlmReply | Exception:
        key = request.event_type if request.event_type in self.answers else "*"
        if key not in self.answers:
            return ScriptedError(f"no scripted answer for event type {request.event_type!r}")
        with self._lock:
            self.requests.append(request)
            turn = self._used.get(key, 0)
            self._used[key] = turn + 1
        scripted = self.answers[key][min(turn, len(self.answers[key]) - 1)]
        if isinstance(scripted, dict) and "delay_s" in scripted:
            time.sleep(float(scripted["delay_s"]))
            scripted = scripted.get("answer", "")
        if isinstance(scripted, dict) and set(scripted) == {"error"}:
            return ScriptedError(str(scripted["error"]))
        return VlmReply(scripted if isinstance(scripted, str) else json.dumps(scripted))

    def close(self) -> None:
        pass
