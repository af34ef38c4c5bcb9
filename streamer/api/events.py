"""One event for a person: `GET /events/{id}` (its latest state, its history, its reviews), its clip and snapshot
by the event's id (the clip with HTTP range requests, so a `<video>` can seek), and `POST /events/{id}/review`:
a true or false alarm with an optional note, stored in the index with who and when, and published as an
`update` of the event carrying a `review` object."""

from __future__ import annotations

import logging
import time
from typing import Annotated, Literal

import redis
from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from streamer.alerts.direct import AlertWriter
from streamer.alerts.messages import index_record, stored_alert
from streamer.alerts.payload import AlertPayload, ReviewSummary
from streamer.alerts.redis_access import connect as redis_connect
from streamer.api.object_response import object_response
from streamer.api.security import CurrentUser, require_camera
from streamer.auth.users import User
from streamer.core.timefmt import iso_time
from streamer.index import db, store
from streamer.index.rows import ReviewRow
from streamer.storage import UnsafePath, resolve_inside

log = logging.getLogger("streamer.api")
router = APIRouter()

EventId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}-[0-9a-f]{16}$", description="An alert's event_id.")]
REVIEW_SEQ = 1_000_000  # reviews are numbered from here in an event's history, never taking a camera message's number


class ReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Literal["true_alarm", "false_alarm"]
    note: str | None = Field(None, max_length=2000)


class ReviewResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: str
    review: ReviewSummary
    published: bool = Field(description="The review's update went out on Redis (it is in the index either way).")
    error: str | None = None


class EventDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: AlertPayload = Field(description="The latest alert payload, with the latest review.")
    history: list[dict] = Field(description="Every message of the event, in the order they were written.")
    reviews: list[ReviewSummary]


def _state(request: Request):
    return request.app.state


def _event_or_404(conn, event_id: str, user: User) -> AlertPayload:
    payload = stored_alert(conn, event_id)
    if payload is None:
        raise HTTPException(404, f"no event {event_id} in the index")
    require_camera(user, payload.camera)
    return payload


def review_summary(row: ReviewRow, tz) -> ReviewSummary:
    return ReviewSummary(
        verdict=row.verdict,
        note=row.note,
        reviewer=row.reviewer,
        reviewed_ts=row.reviewed_ts,
        reviewed_iso=iso_time(row.reviewed_ts, tz),
    )


@router.get("/events/{event_id}", response_model=EventDetail)
async def event_detail(request: Request, event_id: EventId, user: CurrentUser):
    return await run_in_threadpool(_detail, _state(request).service, event_id, user)


def _detail(service, event_id: str, user: User) -> dict:
    conn = service.open_index()
    try:
        payload = _event_or_404(conn, event_id, user)
        history = store.event_states_of(conn, event_id)
        reviews = [review_summary(row, service.tz) for row in store.reviews_of(conn, event_id)]
    finally:
        conn.close()
    if reviews:
        payload = payload.model_copy(update={"review": reviews[-1]})
    return {"event": payload, "history": history, "reviews": reviews}


@router.get("/events/{event_id}/clip")
async def event_clip(request: Request, event_id: EventId, user: CurrentUser):
    return await _event_file(request, event_id, user, "clip", "video/mp4")


@router.get("/events/{event_id}/snapshot")
async def event_snapshot(request: Request, event_id: EventId, user: CurrentUser):
    return await _event_file(request, event_id, user, "snapshot", "image/jpeg")


async def _event_file(request: Request, event_id: str, user: User, field: str, media_type: str):
    service = _state(request).service
    files = service.files

    def locate():
        conn = service.open_index()
        try:
            relative = getattr(_event_or_404(conn, event_id, user), field)
        finally:
            conn.close()
        if not relative:
            raise HTTPException(404, f"the event has no {field} yet")
        try:
            path = resolve_inside(service.storage_dir, relative)
        except UnsafePath:
            raise HTTPException(404, f"the event's {field} is not in the storage folder") from None
        if path.exists():
            return path, relative
        if not files.uploads:
            raise HTTPException(410, f"the event's {field} was deleted (retention)")
        return None, relative  # uploaded, and its local copy gone: from the object store

    path, relative = await run_in_threadpool(locate)
    if path is None:
        return await run_in_threadpool(
            object_response, files.objects, relative, media_type, request.headers.get("range")
        )
    return FileResponse(path, media_type=media_type)  # Starlette answers Range requests: the video can seek


@router.post("/events/{event_id}/review", response_model=ReviewResult)
async def review(request: Request, event_id: EventId, body: ReviewRequest, user: CurrentUser):
    return await run_in_threadpool(_review, _state(request), event_id, body, user)


def _review(state, event_id: str, body: ReviewRequest, user: User) -> ReviewResult:
    service = state.service
    now = time.time()
    conn = db.connect(service.config.index_target)  # writable: the review goes into the index first
    try:
        payload = _event_or_404(conn, event_id, user)
        row = ReviewRow(event_id, body.verdict, body.note, user.name, now)
        summary = review_summary(row, service.tz)
        message = payload.model_copy(update={"state": "update", "review": summary})
        with db.transaction(conn):
            seq = REVIEW_SEQ + len(store.reviews_of(conn, event_id))
            store.record_review(conn, row)
            store.record_event(conn, index_record(message, seq, now))
    finally:
        conn.close()
    log.info("event reviewed", extra={"fields": {"event_id": event_id, "verdict": body.verdict, "reviewer": user.name}})
    published, error = _publish(state, message, f"review:{event_id}:{now:.6f}")
    return ReviewResult(event_id=event_id, review=summary, published=published, error=error)


def _publish(state, message: AlertPayload, message_id: str) -> tuple[bool, str | None]:
    if state.redis_url is None:
        return False, "this API has no Redis to publish to"
    settings = state.service.config.redis
    try:
        client = redis_connect(state.redis_url, settings.connect_timeout_s)
        try:
            AlertWriter(client, settings).publish(message_id, message, owner="review")
        finally:
            client.close()
    except redis.RedisError as error:
        log.warning("review not published (it is in the index): %s", error, extra={"fields": {"id": message_id}})
        return False, f"redis: {error}"
    return True, None
