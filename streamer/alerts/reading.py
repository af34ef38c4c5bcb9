"""An alert read off a stream, as its contract. Every reader (the integrations, `alerts tail`, the API's feed)
parses an entry here once and reads fields after that, never dict keys. Anyone who can XADD can write anything
on the stream, so what is not an alert is a `NotAnAlert` that says why, never a traceback."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from pydantic import ValidationError

from streamer.alerts.payload import AlertPayload

REQUIRED = ("event_id", "camera", "type", "state")
CAMERA_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")  # the payload's own pattern, checked first: names go in paths


class NotAnAlert(ValueError):
    """The entry is not an alert; the text says what is wrong (`not JSON`, `no camera, type`, `source: …`)."""


@dataclass(frozen=True)
class ReadAlert:
    alert: AlertPayload  # what the readers use
    message: dict  # the message as it came, for what passes it on whole (a webhook's body, a template's fields)


def read_alert(data: str | bytes) -> ReadAlert:
    try:
        message = json.loads(data)
    except ValueError:
        raise NotAnAlert("not JSON") from None
    if not isinstance(message, dict):
        raise NotAnAlert("not a JSON object")
    missing = [key for key in REQUIRED if not isinstance(message.get(key), str) or not message[key]]
    if missing:
        raise NotAnAlert(f"no {', '.join(missing)}")
    if not CAMERA_NAME.fullmatch(message["camera"]):
        raise NotAnAlert(f"camera {message['camera'][:80]!r} is not a camera name")
    try:
        alert = AlertPayload.model_validate(message)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the alert"
        raise NotAnAlert(f"{where}: {first['msg']}") from None
    return ReadAlert(alert, message)


def alert_or_none(data: str | bytes) -> AlertPayload | None:
    """For a reader that only skips what is not an alert (a filtered feed)."""
    try:
        return read_alert(data).alert
    except NotAnAlert:
        return None
