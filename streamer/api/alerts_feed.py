"""The alerts for people and pages: `GET /alerts/stream`, server-sent events read from the Redis alert stream as
they are XADDed (no polling of the index), resumable with Last-Event-ID; and `GET /events`, each event's latest
state from the index, newest first. Both keep to the cameras the user may see, and take the same filters."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, get_args

import redis
import redis.asyncio
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from streamer.api.events import review_summary
from streamer.api.security import CurrentUser, require_camera
from streamer.auth.users import User
from streamer.core.types import RiskLevel
from streamer.index import store

RISKS = get_args(RiskLevel)  # low < medium < high < critical
log = logging.getLogger("streamer.api")
router = APIRouter()

BLOCK_MS = 10_000  # a keep-alive comment at least this often, so proxies and browsers keep the stream open
_RISK_ORDER = {level: rank for rank, level in enumerate(RISKS)}
MAX_NAME = 64


class AlertFilter(BaseModel):
    """What a feed or a list keeps: every alert when nothing is set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cameras: tuple[str, ...] | None = None
    types: tuple[str, ...] | None = None
    verification: tuple[str, ...] | None = None
    min_risk: RiskLevel | None = None

    def keeps(self, alert: dict) -> bool:
        if self.cameras is not None and alert.get("camera") not in self.cameras:
            return False
        if self.types and alert.get("type") not in self.types:
            return False
        if self.verification and alert.get("verification") not in self.verification:
            return False
        if self.min_risk is not None:
            rank = _RISK_ORDER.get(alert.get("risk_level") or "", -1)
            return rank >= _RISK_ORDER[self.min_risk]
        return True


Cameras = Annotated[list[Annotated[str, Field(max_length=MAX_NAME)]] | None, Query(max_length=64, description="Only these cameras (repeatable).")]
Types = Annotated[list[Annotated[str, Field(max_length=MAX_NAME)]] | None, Query(max_length=32, description="Only these event types (repeatable).")]
Verifications = Annotated[list[Annotated[str, Field(pattern="^(confirmed|rejected|pending|unverified)$")]] | None,
                          Query(max_length=4, description="Only these VLM verdicts (repeatable).")]


def _filter(request: Request, user: User, camera: list[str] | None, type_: list[str] | None,
            verification: list[str] | None, min_risk: RiskLevel | None) -> AlertFilter:
    every = list(request.app.state.cameras)
    for name in camera or ():
        if name not in every:
            raise HTTPException(400, f"unknown camera '{name}'; the cameras are: {', '.join(every)}")
        require_camera(user, name)
    cameras = tuple(camera) if camera else (tuple(user.visible(every)) if user.cameras is not None else None)
    return AlertFilter(cameras=cameras, types=tuple(type_) if type_ else None,
                       verification=tuple(verification) if verification else None, min_risk=min_risk)


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
    client = request.app.state.redis
    if client is None:
        raise HTTPException(503, "no Redis to read alerts from (this API was started without one)")
    keep = _filter(request, user, camera, type, verification, min_risk)
    stream = request.app.state.streams.alerts
    after = request.headers.get("last-event-id") or ("0-0" if from_start else await _last_id(client, stream))
    return StreamingResponse(_events(request, client, stream, after, keep), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _last_id(client, stream: str) -> str:
    """The stream's newest id now: "$" re-read at every call could miss an alert added between two reads."""
    try:
        newest = await client.xrevrange(stream, count=1)
    except redis.RedisError as error:
        raise HTTPException(503, f"redis unreachable: {error}") from None
    return newest[0][0].decode() if newest else "0-0"


async def _events(request: Request, client, stream: str, after: str, keep: AlertFilter) -> AsyncIterator[str]:
    yield "retry: 2000\n\n"
    while not await request.is_disconnected():
        try:
            reply = await client.xread({stream: after}, count=100, block=BLOCK_MS)
        except redis.RedisError as error:
            yield f": redis unreachable ({type(error).__name__}); retrying\n\n"
            await asyncio.sleep(2)
            continue
        if not reply:
            yield ": keep-alive\n\n"
            continue
        for _, items in reply:
            for entry_id, fields in items:
                after = entry_id.decode()
                data = fields.get(b"data", b"{}").decode()
                try:
                    alert = json.loads(data)
                except ValueError:
                    continue
                if keep.keeps(alert):
                    yield f"id: {after}\nevent: alert\ndata: {data}\n\n"


class EventList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[dict] = Field(description="Each event's latest alert payload (schema_version 1), newest first.")


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


def _latest(service, keep: AlertFilter, limit: int) -> list[dict]:
    from streamer.query.service import NoIndex

    try:
        conn = service.open_index()
    except NoIndex:
        return []
    try:
        where, args = "", []
        if keep.cameras is not None:
            where = f"WHERE camera IN ({','.join('?' * len(keep.cameras))})"
            args = list(keep.cameras)
        found = []
        for (payload,) in conn.execute(f"SELECT payload_json FROM events {where} ORDER BY start_ts DESC", args):
            alert = json.loads(payload)
            review = store.latest_review(conn, alert["event_id"])
            if review is not None:
                alert["review"] = review_summary(review, service.tz).model_dump()
            if keep.keeps(alert):
                found.append(alert)
                if len(found) >= limit:
                    break
        return found
    finally:
        conn.close()


def redis_client(url: str | None):
    """An asyncio client for the feed; None when there is no Redis to read."""
    return redis.asyncio.from_url(url, socket_timeout=BLOCK_MS / 1000 + 10, socket_connect_timeout=3) if url else None
