"""The cameras for the console: `GET /cameras` (each camera the user may see, with its latest figures: state, fps
in and detected, drops, when they were taken), and its live picture as one JPEG (`/cameras/{name}/live.jpg`) or
as MJPEG (`/cameras/{name}/live.mjpeg`, each new picture as it is written). Both come from the files each camera
worker writes in `<storage_dir>/live`; nothing here touches a camera."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

import redis
from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from streamer.alerts.streams import live_key
from streamer.api.security import CurrentUser, known_camera
from streamer.api.streams import GatedStream, Recheck
from streamer.storage import live_relpath, resolve_inside

router = APIRouter()

CameraName = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
MJPEG_POLL_S = 0.2
HEALTH_SCAN = 500
BOUNDARY = "streamer-frame"


class CameraStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    enabled: bool
    kind: str = Field(description="live (cameras, HLS) or file.")
    url: str | None = Field(description="For admins, with its credentials masked; null for viewers, who need none.")
    figures: dict | None = Field(
        description="The camera's latest stats line (state, fps_in, fps_sampled, "
        "fps_detected, motion, drops, "
        "…, ts): null until its worker has logged one."
    )
    picture: bool = Field(description="A live picture exists (`live.jpg`, `live.mjpeg`).")


class CameraList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cameras: list[CameraStatus]


@router.get("/cameras", response_model=CameraList)
async def cameras(request: Request, user: CurrentUser):
    service = request.app.state.service
    sources = await _source_states(request)
    found = []
    for name, camera in service.config.cameras.items():
        if not user.may_see(name):
            continue
        figures = _read_json(resolve_inside(service.storage_dir, live_relpath(name, ".json")))
        shared = await _shared(request, name, "json") if figures is None else None
        if shared is not None:  # run by another host of the site
            figures = _parse_json(shared)
        seen = sources.get(name)
        if seen is not None and (figures is None or seen["ts"] > figures.get("ts", 0)):
            # a camera without frames writes no stats line: its source's last change on the health stream is newer
            figures = {
                **(figures or {}),
                "state": seen["state"],
                "reason": seen.get("reason", ""),
                "state_ts": seen["ts"],
            }
        url = camera.safe_url if user.is_admin else None  # a viewer needs no camera's address
        picture = resolve_inside(service.storage_dir, live_relpath(name, ".jpg")).exists()
        picture = picture or await _shared(request, name, "jpg", exists=True) is not None
        found.append(
            CameraStatus(
                name=name, enabled=camera.enabled, kind=camera.kind.value, url=url, figures=figures, picture=picture
            )
        )
    return {"cameras": found}


async def _source_states(request: Request) -> dict[str, dict]:
    """The latest `source` entry of each camera on the health stream (connecting, streaming, reconnecting, failed…)."""
    client = request.app.state.redis
    if client is None:
        return {}
    latest: dict[str, dict] = {}
    try:
        entries = await client.xrevrange(request.app.state.streams.health, count=HEALTH_SCAN)
    except redis.RedisError:
        return {}
    for _, fields in entries:
        try:
            entry = json.loads(fields.get(b"data", b"{}"))
        except ValueError:
            continue
        if entry.get("component") == "source":
            latest.setdefault(entry.get("camera"), entry)
    return latest


def _read_json(path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _parse_json(data: bytes) -> dict | None:
    try:
        found = json.loads(data)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


async def _shared(request: Request, name: str, kind: str, exists: bool = False):
    """The camera's live picture or figures as its host put them in the site's Redis (None: none, or no Redis)."""
    client = request.app.state.redis
    if client is None:
        return None
    key = live_key(request.app.state.streams.prefix, name, kind)
    try:
        if exists:
            return b"" if await client.exists(key) else None
        return await client.get(key)
    except redis.RedisError:
        return None


def _picture(request: Request, name: str, user):
    known_camera(request, user, name)
    return resolve_inside(request.app.state.service.storage_dir, live_relpath(name, ".jpg"))


@router.get("/cameras/{name}/live.jpg")
async def live_jpeg(request: Request, name: CameraName, user: CurrentUser):
    path = _picture(request, name, user)
    try:
        # read whole, not streamed from the path: the worker replaces the file every second, and a response
        # whose length was taken from the old file and whose bytes come from the new one is cut off mid-way
        data = path.read_bytes()
    except OSError:  # not written here (another host runs the camera)
        data = await _shared(request, name, "jpg")
        if data is None:
            raise HTTPException(404, f"no live picture of '{name}' yet (is `streamer run` running it?)") from None
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get("/cameras/{name}/live.mjpeg")
async def live_mjpeg(request: Request, name: CameraName, user: CurrentUser):
    """multipart/x-mixed-replace: an `<img>` shows each new picture as the worker writes it (about 1 a second)."""
    path = _picture(request, name, user)
    slot = request.app.state.stream_gate.take(user)
    return GatedStream(
        slot,
        _frames(path, Recheck(request, user), lambda: _shared(request, name, "jpg")),
        headers={"Cache-Control": "no-store"},
        media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
    )


async def _frames(path, recheck: Recheck, shared) -> AsyncIterator[bytes]:
    """Each new picture: from the local file while this host runs the camera, else from the site's Redis."""
    last = None
    while await recheck.allowed():
        data = None
        try:
            stamp = path.stat().st_mtime_ns
            if stamp != last:
                data, last = path.read_bytes(), stamp
        except OSError:  # not written here (another host runs it), or being replaced
            picture = await shared()
            if picture is not None and hash(picture) != last:
                data, last = picture, hash(picture)
        if data:
            yield (
                f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n".encode()
                + data
                + b"\r\n"
            )
        await asyncio.sleep(MJPEG_POLL_S)
