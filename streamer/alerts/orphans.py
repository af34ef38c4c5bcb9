"""Events left open by a host that died: the delivery script keeps each camera's open events (announced, not
ended) in `<prefix>:open:<camera>`, and the host that takes the camera over ends each one, from its latest state,
at the time the dead host was last heard of, with the reason. Its message id is fixed per event, so two hosts (or
a retry) ending the same event send one `end`."""

from __future__ import annotations

import json
import logging
from zoneinfo import ZoneInfo

import redis
from pydantic import ValidationError

from streamer.alerts.deliver_script import event_state_key, open_events_key
from streamer.alerts.payload import CAMERA_OFFLINE, AlertPayload
from streamer.alerts.spool import SpoolRecord
from streamer.alerts.streams import StreamNames
from streamer.core.timefmt import iso_time

log = logging.getLogger("streamer.alerts")


def orphan_ends(
    client: redis.Redis, streams: StreamNames, camera: str, ended_ts: float, reason: str, tz: ZoneInfo
) -> list[SpoolRecord]:
    """The `end` messages of `camera`'s open events (to submit through an exactly-once publisher)."""
    records = []
    for raw_id in client.smembers(open_events_key(streams.prefix, camera)):
        event_id = raw_id.decode()
        raw = client.get(event_state_key(streams.prefix, event_id))
        latest = json.loads(raw) if raw else None
        if (
            not latest
            or latest.get("_unannounced")
            or latest.get("state") == "end"
            or latest.get("type") == CAMERA_OFFLINE
        ):
            client.srem(open_events_key(streams.prefix, camera), event_id)
            continue
        end = round(max(ended_ts, latest["start_ts"]), 3)
        try:
            payload = AlertPayload.model_validate(
                {**latest, "state": "end", "end_ts": end, "end_iso": iso_time(end, tz), "end_reason": reason}
            )
        except ValidationError as error:
            log.error("an open event could not be ended: %s", error, extra={"fields": {"event_id": event_id}})
            continue
        records.append(
            SpoolRecord(
                f"{event_id}:ended-by-takeover",
                (streams.alerts, streams.camera_alerts(camera)),
                payload.to_json(),
                None,
            )
        )
    return records
