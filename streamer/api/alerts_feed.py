"""The alerts for people and pages: `GET /alerts/stream`, server-sent events read from the Redis alert stream as
they are XADDed (no polling of the index), resumable with Last-Event-ID; and `GET /events`, each event's latest
state from the index, newest first. Both keep to the cameras the user may see, and take the same filters.

Every feed of a server shares one reader of the stream (`alert_hub`), counts against the stream limits
(`streams.StreamGate`) and ends when its login does (`streams.Recheck`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated, get_args

import redis
import redis.asyncio
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from streamer.alerts.payload import AlertPayload
from streamer.alerts.reading import alert_or_none
from streamer.api.alert_hub import AlertHub, BadStreamId, Entry, Subscription, id_key
from streamer.api.events import review_summary
from streamer.api.security import CurrentUser, cameras_listed, require_camera
from streamer.api.streams import RECHECK_S, GatedStream, Recheck
from streamer.auth.users import User
from streamer.core.types import RiskLevel
from streamer.index import store

RISKS = get_args(RiskLevel)  # low < medium < high < critical
log = logging.getLogger("streamer.api")
router = APIRouter()

KEEP_ALIVE_S = 10.0  # a comment at least this often, so proxies and browsers keep the stream open
_RISK_ORDER = {level: rank for rank, level in enumerate(RISKS)}
MAX_NAME = 64


class AlertFilter(BaseModel):
    """What a feed or a list keeps: every alert when nothing is set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cameras: tuple[str, ...] | None = None
    types: tuple[str, ...] | None = None
    verification: tuple[str, ...] | None = None
    min_risk: RiskLevel | None = None

    def keeps_data(self, data: str) -> bool:
        """For an entry as XADDed: an alert this filter keeps (what is not an alert goes to no one)."""
        alert = alert_or_none(data)
        return alert is not None and self.keeps(alert)

    def keeps(self, alert: AlertPayload) -> bool:
        if self.cameras is not None and alert.camera not in self.cameras:
            return False
        if self.types and alert.type not in self.types:
            return False
        if self.verification and alert.verification not in self.verification:
            return False
        if self.min_risk is not None:
            return _RISK_ORDER.get(alert.risk_level or "", -1) >= _RISK_ORDER[self.min_risk]
        return True


Cameras = Annotated[
    list[Annotated[str, Field(max_length=MAX_NAME)]] | None,
    Query(max_length=64, description="Only these cameras (repeatable)."),
]
Types = Annotated[
    list[Annotated[str, Field(max_length=MAX_NAME)]] | None,
    Query(max_length=32, description="Only these event types (repeatable)."),
]
Verifications = Annotated[
    list[Annotated[str, Field(pattern="^(confirmed|rejected|pending|unverified)$")]] | None,
    Query(max_length=4, description="Only these VLM verdicts (repeatable)."),
]


def _filter(
    request: Request,
    user: User,
    camera: list[str] | None,
    type_: list[str] | None,
    verification: list[str] | None,
    min_risk: RiskLevel | None,
) -> AlertFilter:
    every = list(request.app.state.cameras)
    for name in camera or ():
        if user.cameras is not None:
            require_camera(user, name)  # the same 403 for a camera that does not exist: no other names are told
        if name not in every:
            raise HTTPException(400, f"unknown camera '{name}'; the cameras are: {cameras_listed(user, every)}")
    cameras = tuple(camera) if camera else (tuple(user.visible(every)) if user.cameras is not None else None)
    return AlertFilter(
        cameras=cameras,
        types=tuple(type_) if type_ else None,
        verification=tuple(verification) if verification else None,
        min_risk=min_risk,
    )


@router.get("/alerts/stream")
async def alerts_stream(
    request: Request,
    user: CurrentUser,
    camera: Cameras = None,
    type: Types = None,  # noqa: A002 - the payload's own field name
    verification: Verifications = None,
    min_risk: RiskLevel | None = None,
    from_start: Annotated[bool, Query(description="Begin at the oldest alert kept instead of the next one.")] = False,
):
    """Server-sent events, `event: alert` with the payload as published, `id:` its stream id."""
    hub: AlertHub | None = request.app.state.alert_hub
    if hub is None:
        raise HTTPException(503, "no Redis to read alerts from (this API was started without one)")
    keep = _filter(request, user, camera, type, verification, min_risk)
    resume = request.headers.get("last-event-id")
    if resume is not None:
        try:
            id_key(resume)
        except BadStreamId as error:
            raise HTTPException(400, f"Last-Event-ID: {error}") from None
    try:
        after = resume or ("0-0" if from_start else await hub.newest_id())
    except redis.RedisError as error:
        raise HTTPException(503, f"redis unreachable: {error}") from None
    slot = request.app.state.stream_gate.take(user)
    return GatedStream(
        slot,
        _events(hub, after, keep, Recheck(request, user)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(hub: AlertHub, after: str, keep: AlertFilter, recheck: Recheck) -> AsyncIterator[str]:
    subscription = await hub.subscribe()
    try:
        yield "retry: 2000\n\n"
        last = id_key(after)
        try:
            async for entry in hub.missed(after):  # what it missed, then the live entries newer than those
                last = id_key(entry.id)
                if keep.keeps_data(entry.data):
                    yield _message(entry)
        except redis.RedisError as error:
            yield f": redis unreachable ({type(error).__name__}); the live alerts follow\n\n"
        async for text in _live(subscription, last, keep, recheck):
            yield text
    finally:
        hub.unsubscribe(subscription)


async def _live(
    subscription: Subscription, last: tuple[int, int], keep: AlertFilter, recheck: Recheck
) -> AsyncIterator[str]:
    said = time.monotonic()
    while await recheck.allowed():
        if subscription.overflowed and subscription.queue.empty():
            return  # too slow to keep up: the browser reconnects with its last id and catches up
        try:
            item = await asyncio.wait_for(subscription.queue.get(), timeout=RECHECK_S)
        except TimeoutError:
            if time.monotonic() - said >= KEEP_ALIVE_S:
                said = time.monotonic()
                yield ": keep-alive\n\n"
            continue
        said = time.monotonic()
        if not isinstance(item, Entry):
            yield f": {item.text}\n\n"
        elif id_key(item.id) > last and keep.keeps_data(item.data):
            yield _message(item)


def _message(entry: Entry) -> str:
    return f"id: {entry.id}\nevent: alert\ndata: {entry.data}\n\n"


class EventList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[AlertPayload] = Field(description="Each event's latest alert payload, newest first.")


@router.get("/events", response_model=EventList)
async def events(
    request: Request,
    user: CurrentUser,
    camera: Cameras = None,
    type: Types = None,  # noqa: A002
    verification: Verifications = None,
    min_risk: RiskLevel | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    keep = _filter(request, user, camera, type, verification, min_risk)
    rows = await run_in_threadpool(_latest, request.app.state.service, keep, limit)
    return {"events": rows}


def _latest(service, keep: AlertFilter, limit: int) -> list[AlertPayload]:
    from streamer.query.service import NoIndex

    try:
        conn = service.open_index()
    except NoIndex:
        return []
    risks = None if keep.min_risk is None else RISKS[_RISK_ORDER[keep.min_risk] :]
    try:
        found = store.latest_events(conn, keep.cameras, keep.types, keep.verification, risks, limit)
        alerts = []
        for stored in found:  # read as the contract: the index keeps only messages that passed it
            alert = AlertPayload.model_validate(stored)
            review = store.latest_review(conn, alert.event_id)
            if review is not None:
                alert = alert.model_copy(update={"review": review_summary(review, service.tz)})
            alerts.append(alert)
        return alerts
    finally:
        conn.close()


def redis_client(url: str | None):
    """An asyncio client for the feeds and the camera states; None when there is no Redis to read."""
    return redis.asyncio.from_url(url, socket_timeout=10, socket_connect_timeout=3) if url else None
