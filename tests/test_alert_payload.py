"""The alert payload contract (docs/contracts.md): strict for what we send, forward-compatible for subscribers."""

from __future__ import annotations

import json

import jsonschema
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from streamer.alerts.payload import AlertPayload, json_schema
from streamer.cli import app
from streamer.core.timefmt import iso_time

START = 1795238757.12
VALID = {
    "schema_version": 1,
    "event_id": "lobby-fall-7-1795238757120",
    "camera": "lobby",
    "type": "fall",
    "state": "new",
    "label": "person",
    "track_id": 7,
    "start_ts": START,
    "start_iso": "2026-11-21T05:25:57.120+00:00",
    "end_ts": None,
    "end_iso": None,
    "confidence": 0.81,
    "bbox_xyxy": [10, 20, 110, 220],
    "frame_wh": [640, 480],
    "verification": "unverified",
    "risk_level": None,
    "description": None,
    "snapshot": "snapshots/lobby/x.jpg",
    "clip": None,
    "source": {"rule": "fall", "model": "yolo26n.pt"},
}


def test_iso_time_has_milliseconds_and_offset() -> None:
    assert iso_time(START) == "2026-11-21T05:25:57.120+00:00"


def test_valid_payload_round_trips_and_matches_the_published_schema() -> None:
    payload = AlertPayload.model_validate(VALID)
    data = json.loads(payload.to_json())
    assert data["bbox_xyxy"] == [10.0, 20.0, 110.0, 220.0] and data["state"] == "new"
    jsonschema.validate(data, json.loads(json_schema()))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"start_iso": "2026-11-21T05:25:58.120+00:00"}, "does not match start_ts"),
        ({"start_iso": "2026-11-21T05:25:57.120"}, "needs a UTC offset"),
        ({"state": "end"}, "an 'end' alert needs end_ts"),
        ({"end_ts": START - 5, "end_iso": iso_time(START - 5)}, "end_ts is before start_ts"),
        ({"end_ts": START + 5}, "end_ts and end_iso must both be set"),
        ({"bbox_xyxy": [110, 20, 10, 220]}, "x1 <= x2"),
        ({"confidence": 1.5}, "less than or equal to 1"),
        ({"state": "started"}, "Input should be 'new', 'update' or 'end'"),
        ({"risk_level": "extreme"}, "Input should be 'low', 'medium', 'high' or 'critical'"),
        ({"camera": "Lobby Cam"}, "String should match pattern"),
        ({"schema_version": 2}, "Input should be 1"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_payloads_are_refused_before_sending(change: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AlertPayload.model_validate({**VALID, **change})


def test_subscribers_schema_accepts_fields_added_later_but_not_broken_ones() -> None:
    schema = json.loads(json_schema())
    jsonschema.validate({**VALID, "added_later": {"start_ts": START}}, schema)  # a later optional field
    vlm = {
        "status": "answered",
        "model": "m",
        "job_id": "j",
        "window_start_ts": START,
        "window_end_ts": START + 9,
        "latency_s": 1.5,
        "attempts": 1,
        "added_later": True,
    }
    jsonschema.validate({**VALID, "vlm": vlm}, schema)  # unknown fields inside known objects too
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**VALID, "vlm": {**vlm, "status": "maybe"}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**VALID, "state": "started"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({k: v for k, v in VALID.items() if k != "event_id"}, schema)


def test_alerts_schema_command_prints_the_schema() -> None:
    result = CliRunner().invoke(app, ["alerts", "schema"])
    assert result.exit_code == 0
    assert json.loads(result.output)["properties"]["schema_version"]["const"] == 1
