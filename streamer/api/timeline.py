"""A camera's day for the console's timeline: `GET /cameras/{name}/timeline?day=YYYY-MM-DD` (the day in the
config's time zone) gives its recorded segments, its gaps and its events on one time axis, and
`GET /cameras/{name}/recording.mp4?at=TS&seconds=N` plays the recording from a time (a clip cut on demand from
the segments, from the whole second at or before `at`, kept in the bounded cache of cuts and served with range
requests; `X-Clip-Start` says the epoch time of its first frame's second)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from streamer.api.security import CurrentUser, known_camera
from streamer.core.timefmt import iso_time
from streamer.index import store
from streamer.record.cuts import playback_relpath, snapped
from streamer.record.export import NoRecording, export_clip
from streamer.storage import resolve_inside

router = APIRouter()

CameraName = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Span(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    start_ts: float
    end_ts: float
    start_iso: str
    end_iso: str


class TimelineEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str
    type: str
    label: str
    start_ts: float
    end_ts: float | None
    start_iso: str
    verification: str
    review: str | None = Field(description="The latest person's verdict: true_alarm, false_alarm or null.")


class Timeline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    camera: str
    day: str
    from_ts: float
    to_ts: float
    segments: list[Span] = Field(description="Recorded footage, adjacent segments merged.")
    gaps: list[Span]
    events: list[TimelineEvent]


@router.get("/cameras/{name}/timeline", response_model=Timeline)
async def timeline(
    request: Request,
    name: CameraName,
    user: CurrentUser,
    day: Annotated[
        str | None, Query(max_length=10, description="YYYY-MM-DD in the config's zone (default: today).")
    ] = None,
):
    known_camera(request, user, name)
    return await run_in_threadpool(_timeline, request.app.state.service, name, day)


def _timeline(service, name: str, day: str | None) -> dict:
    tz = service.tz
    if day is None:
        chosen = datetime.now(tz).date()
    elif _DAY.match(day):
        try:
            chosen = date.fromisoformat(day)
        except ValueError:
            raise HTTPException(400, f"'{day}' is not a day (YYYY-MM-DD)") from None
    else:
        raise HTTPException(400, f"'{day}' is not a day (YYYY-MM-DD)")
    start = datetime.combine(chosen, time(0), tz).timestamp()
    end = datetime.combine(chosen + timedelta(days=1), time(0), tz).timestamp()
    conn = service.open_index()
    try:
        segments = _merged([(s.start_ts, s.end_ts) for s in store.segments_overlapping(conn, name, start, end)])
        gaps = [(g.start_ts, g.end_ts) for g in store.gaps_of(conn, name) if g.end_ts > start and g.start_ts < end]
        rows = store.day_events(conn, name, start, end)
    finally:
        conn.close()
    events = [
        TimelineEvent(
            event_id=r[0],
            type=r[1],
            label=r[2],
            start_ts=r[3],
            end_ts=r[4],
            start_iso=iso_time(r[3], tz),
            verification=r[5],
            review=r[6],
        )
        for r in rows
    ]
    span = lambda a, b: Span(start_ts=a, end_ts=b, start_iso=iso_time(a, tz), end_iso=iso_time(b, tz))  # noqa: E731
    return {
        "camera": name,
        "day": chosen.isoformat(),
        "from_ts": start,
        "to_ts": end,
        "segments": [span(a, b) for a, b in segments],
        "gaps": [span(a, b) for a, b in gaps],
        "events": events,
    }


def _merged(spans: list[tuple[float, float]], slack_s: float = 0.5) -> list[tuple[float, float]]:
    """Segments that follow each other (within half a second) as one stretch of footage."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if merged and start - merged[-1][1] <= slack_s:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


@router.get("/cameras/{name}/recording.mp4")
async def recording(
    request: Request,
    name: CameraName,
    user: CurrentUser,
    at: Annotated[float, Query(gt=0, lt=1e11, description="Epoch seconds to play from.")],
    seconds: Annotated[float, Query(gt=0, le=600)] = 60,
):
    known_camera(request, user, name)
    start, length = snapped(at, seconds)
    path = await run_in_threadpool(_cut, request.app.state.service, name, start, length)
    return FileResponse(path, media_type="video/mp4", headers={"X-Clip-Start": f"{start:.3f}"})


def _cut(service, name: str, start: float, seconds: float):
    """Cut once per camera, whole second and length; kept in the cache of cuts for the next viewer."""

    def make(partial) -> None:
        conn = service.open_index()
        try:
            export_clip(service.files, conn, name, start, start + seconds, partial)
        except NoRecording as error:
            raise HTTPException(404, str(error)) from None
        finally:
            conn.close()

    return service.cuts.made(resolve_inside(service.storage_dir, playback_relpath(name, start, seconds)), make)
