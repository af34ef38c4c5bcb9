"""The answers: `GET /query?q=…` returns the same JSON document as `streamer query --json`; `GET /clips/{id}` and
`GET /snapshots/{id}` serve a hit's files by the hit's id, never by a path; `GET /health` says the API is up."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from starlette.exceptions import HTTPException

from streamer.api.security import AuthMode, CurrentUser, require_camera
from streamer.auth.users import User
from streamer.query.document import AnswerDocument
from streamer.query.media import UnknownMedia

router = APIRouter()

MAX_QUESTION = 2_000  # characters: a question, not a document
MAX_TIME = 100
MAX_ID = 64


@router.get("/health")
def health(request: Request) -> dict:
    if request.app.state.auth.mode is AuthMode.USERS:
        return {"status": "ok"}  # the camera names are for users
    return {"status": "ok", "cameras": list(request.app.state.service.config.cameras)}


@router.get("/query", response_model=AnswerDocument)
async def query(
    request: Request,
    user: CurrentUser,
    q: Annotated[
        str, Query(max_length=MAX_QUESTION, description="The question, e.g. 'when did the person fall'.")
    ] = "",
    camera: Annotated[
        str | None, Query(max_length=MAX_ID, description="Only this camera (overrides the question).")
    ] = None,
    since: Annotated[
        str | None, Query(max_length=MAX_TIME, description="ISO 8601, epoch seconds or relative (-2h).")
    ] = None,
    until: Annotated[str | None, Query(max_length=MAX_TIME, description="Same forms.")] = None,
    scan: Annotated[bool, Query(description="Also show the VLM footage with no event.")] = False,
):
    service = request.app.state.service
    searched = _cameras_for(user, camera, list(service.config.cameras))
    # the model and the index are blocking: off the event loop
    return await run_in_threadpool(service.ask, q, searched, since, until, scan, False)


@router.get("/clips/{hit_id}")
async def clip(request: Request, hit_id: str, user: CurrentUser):
    media = request.app.state.service.media
    return await _file(media, media.clip, hit_id, "video/mp4", user)


@router.get("/snapshots/{hit_id}")
async def snapshot(request: Request, hit_id: str, user: CurrentUser):
    media = request.app.state.service.media
    return await _file(media, media.snapshot, hit_id, "image/jpeg", user)


def _cameras_for(user: User, camera: str | None, every: list[str]) -> str | list[str] | None:
    """What a question may search: the camera asked for if the user may see it, else the user's cameras. A viewer
    limited to some cameras gets the same 403 for a camera that does not exist: no answer lists the others."""
    if camera is not None:
        if user.cameras is not None:
            require_camera(user, camera)
        return camera  # an admin's unknown camera is the question's own 400, with the list of cameras
    if user.cameras is None:
        return None
    visible = user.visible(every)
    if not visible:
        raise HTTPException(403, f"user '{user.name}' may see none of this service's cameras")
    return visible


async def _file(media, make, hit_id: str, media_type: str, user: User):
    if len(hit_id) > MAX_ID:
        raise UnknownMedia(hit_id)
    require_camera(user, await run_in_threadpool(media.camera_of, hit_id))
    path = await run_in_threadpool(make, hit_id)
    return FileResponse(path, media_type=media_type, filename=f"{hit_id}{path.suffix}")
