"""Alert messages as the service publishes them (valid against the contract), for the tests and benchmarks that
feed an integration, the index or the API without running a camera."""

from __future__ import annotations

from streamer.alerts.payload import AlertPayload, AlertSource
from streamer.core.timefmt import iso_time

T0 = 1_795_000_000.0  # 2026-11-18, a fixed instant so messages are the same in every run


def alert(
    event_id: str,
    state: str = "new",
    start_ts: float = T0,
    end_ts: float | None = None,
    *,
    camera: str = "street",
    kind: str = "zone_intrusion",
    zone: str | None = None,
    track_id: int | None = 1,
    verification: str = "unverified",
    description: str | None = None,
    risk_level: str | None = None,
    snapshot: str | None = None,
    clip: str | None = None,
    model: str = "yolo26n.pt",
    frame_wh: tuple[int, int] = (640, 272),
    bbox_xyxy: tuple[float, float, float, float] = (1.0, 2.0, 30.0, 40.0),
) -> AlertPayload:
    """One message of an event; an `end` message needs `end_ts`."""
    return AlertPayload(
        event_id=event_id,
        camera=camera,
        type=kind,
        state=state,
        label="person",
        track_id=track_id,
        start_ts=start_ts,
        start_iso=iso_time(start_ts),
        end_ts=end_ts,
        end_iso=None if end_ts is None else iso_time(end_ts),
        confidence=0.9,
        bbox_xyxy=bbox_xyxy,
        frame_wh=frame_wh,
        verification=verification,
        risk_level=risk_level,
        description=description,
        snapshot=snapshot or f"snapshots/{camera}/{iso_time(start_ts)[:10]}/{event_id}.jpg",
        clip=clip,
        source=AlertSource(rule=kind, model=model, zone=zone),
    )


def event_alerts(event_id: str, start_ts: float, end_ts: float, **fields) -> list[AlertPayload]:
    """One event's `new` and `end`, with the same id."""
    return [alert(event_id, "new", start_ts, None, **fields), alert(event_id, "end", start_ts, end_ts, **fields)]
