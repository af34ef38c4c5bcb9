"""Structured logging: `key=value` text or JSON lines, with credentials scrubbed from every message."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

from streamer.redact import scrub

# color_message: uvicorn's ANSI copy of its message
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "fields",
    "color_message",
}


def _fields(record: logging.LogRecord) -> dict[str, object]:
    fields = dict(getattr(record, "fields", {}) or {})
    fields.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
    return fields


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        pairs = " ".join(f"{key}={_render(value)}" for key, value in _fields(record).items())
        line = f"{_timestamp(record)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if pairs:
            line = f"{line} {pairs}"
        if record.exc_info and record.levelno >= logging.ERROR:  # a bug's traceback at every level: it is needed
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return scrub(line)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {"ts": _timestamp(record), "level": record.levelname.lower(), "logger": record.name}
        payload["msg"] = record.getMessage()
        payload.update(_fields(record))
        if record.exc_info and record.levelno >= logging.ERROR:
            payload["traceback"] = self.formatException(record.exc_info)
        return scrub(json.dumps(payload, default=str))


def _render(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    text = str(value)
    return json.dumps(text) if (" " in text or not text) else text


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("ultralytics", "libav", "matplotlib", "PIL", "uvicorn", "httpx", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
