"""FastAPI: `GET /query?q=…` returns the same JSON document as `streamer query --json`; `GET /clips/{id}` and
`GET /snapshots/{id}` serve a hit's files by the hit's id, never by a path.

One error path: every problem with a request is a 4xx with `{"error": message}` (a bad question or time 400, a
parameter of the wrong form 422, no such id 404, a file gone 410, a Host this service is not 421, a body over the
limit 413, no index yet or every clip cutter busy 503); anything else is a bug, logged with its traceback and
answered 500 with the same shape and no detail. What every request passes first is in `guard.py`.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from starlette.exceptions import HTTPException

from streamer.alerts.streams import StreamNames
from streamer.api import (
    alerts_feed,
    cameras,
    config_admin,
    console,
    events,
    geometry,
    live_video,
    login,
    metrics,
    system,
    timeline,
)
from streamer.api.alert_hub import AlertHub
from streamer.api.guard import (
    BodyLimit,
    BugsAreLogged,
    HostGuard,
    HostRules,
    SecurityHeaders,
)
from streamer.api.security import Auth, AuthMode, CurrentUser, NoUsers, require_camera
from streamer.api.streams import StreamGate
from streamer.auth import passwords
from streamer.auth.ratelimit import LoginLimiter
from streamer.auth.store import UserStore
from streamer.auth.users import User
from streamer.config.query import ApiConfig
from streamer.index import db
from streamer.media.objects import ObjectStoreError
from streamer.query.document import AnswerDocument
from streamer.query.media import MediaUnavailable, UnknownMedia
from streamer.query.question import QuestionError
from streamer.query.service import NoIndex, QueryService
from streamer.query.timeexpr import TimeExpressionError
from streamer.record.cuts import CutsBusy
from streamer.timeparse import TimeFormatError

log = logging.getLogger("streamer.api")

MAX_QUESTION = 2_000  # characters: a question, not a document
MAX_TIME = 100
MAX_ID = 64

_STATUS = {
    QuestionError: 400,
    TimeExpressionError: 400,
    TimeFormatError: 400,
    UnknownMedia: 404,
    MediaUnavailable: 410,
    NoIndex: 503,
    CutsBusy: 503,
}
_UNKNOWN_ID = "no such hit id; ids come from GET /query"


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(
    service: QueryService, api: ApiConfig | None = None, redis_url: str | None = None, config_path: Path | None = None
) -> FastAPI:
    """`api`: the settings it is served with (the config's, with the command line's flags); raises NoUsers when
    they ask for a login and nobody could log in. `redis_url`: where the alert feed reads (none: no feed)."""
    api = api or service.config.api
    # /docs and /openapi.json are the console's, behind the login
    app = FastAPI(
        title="streamer",
        summary="Ask the recordings: wall-clock answers with clips and evidence.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    if db.exists(service.config.index_target):
        db.connect(service.config.index_target).close()  # an index an older version wrote gets the later tables
    store = UserStore.for_config(service.config)
    if api.auth == "users" and not store.exists():
        raise NoUsers("api.auth is 'users' but no user is defined: add one with `streamer users add NAME --role admin`")
    app.state.auth = Auth(store, api, LoginLimiter())
    threading.Thread(target=passwords.verify_unknown, args=("warm-up",), daemon=True).start()  # its hash, made ahead
    app.state.service = service
    app.state.config_path = config_path  # for an admin's POST /config/reload
    app.state.cameras = tuple(service.config.cameras)
    app.state.stream_gate = StreamGate(api.max_streams, api.max_streams_per_user)
    app.state.streams = StreamNames(service.config.redis.prefix)
    app.state.redis = alerts_feed.redis_client(redis_url)
    app.state.redis_url = redis_url
    app.state.alert_hub = AlertHub(app.state.redis, app.state.streams.alerts) if app.state.redis is not None else None
    _error_path(app)
    app.include_router(login.router)
    app.include_router(alerts_feed.router)
    app.include_router(events.router)
    app.include_router(cameras.router)
    app.include_router(live_video.router)
    app.include_router(config_admin.router)
    app.include_router(geometry.router)
    app.include_router(timeline.router)
    app.include_router(system.router)
    app.include_router(metrics.router)
    console.install(app)
    # the last added is the outermost: headers on every answer, then the Host, then the body's size
    app.add_middleware(BodyLimit)
    app.add_middleware(HostGuard, rules=HostRules(api.host, api.allowed_hosts))
    app.add_middleware(SecurityHeaders, https=api.behind_https)

    @app.get("/health")
    def health() -> dict:
        if app.state.auth.mode is AuthMode.USERS:
            return {"status": "ok"}  # the camera names are for users
        return {"status": "ok", "cameras": list(service.config.cameras)}

    @app.get("/query", response_model=AnswerDocument)
    async def query(
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
        searched = _cameras_for(user, camera, list(service.config.cameras))
        # the model and the index are blocking: off the event loop
        return await run_in_threadpool(service.ask, q, searched, since, until, scan, False)

    @app.get("/clips/{hit_id}")
    async def clip(hit_id: str, user: CurrentUser):
        return await _file(service.media, service.media.clip, hit_id, "video/mp4", user)

    @app.get("/snapshots/{hit_id}")
    async def snapshot(hit_id: str, user: CurrentUser):
        return await _file(service.media, service.media.snapshot, hit_id, "image/jpeg", user)

    return app


def _error_path(app: FastAPI) -> None:
    for kind, status in _STATUS.items():
        app.add_exception_handler(kind, _known(status))

    for kind in (*db.UNREACHABLE, ObjectStoreError):
        app.add_exception_handler(kind, _unreachable)

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'][1:]) or 'request'}: {e['msg']}" for e in exc.errors()]
        return error(422, "; ".join(problems))

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        response = error(exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})  # Retry-After of a rate-limited login
        return response

    app.add_middleware(BugsAreLogged)


async def _unreachable(_request: Request, exc: Exception) -> JSONResponse:
    """The site's database or object store away (a restart, a failover): try again, nothing is wrong with the
    request. What it said is logged, not answered (it names hosts)."""
    log.warning("a store cannot be reached: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    return error(503, "the index's database or the object store cannot be reached; try again shortly")


def _known(status: int):
    async def handler(_request: Request, exc: Exception) -> JSONResponse:
        return error(status, _UNKNOWN_ID if isinstance(exc, UnknownMedia) else str(exc))

    return handler


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
