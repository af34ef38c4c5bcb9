"""The API's FastAPI app: its state, its routers (the answers in `answers.py`, the alerts, events, cameras, live
video, config, geometry, timeline, system and metrics each in their own module), the console, and the guard.

One error path: every problem with a request is a 4xx with `{"error": message}` (a bad question or time 400, a
parameter of the wrong form 422, no such id 404, a file gone 410, a Host this service is not 421, a body over the
limit 413, no index yet or every clip cutter busy 503); anything else is a bug, logged with its traceback and
answered 500 with the same shape and no detail. What every request passes first is in `guard.py`.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from streamer.alerts.streams import StreamNames
from streamer.api import (
    alerts_feed,
    answers,
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
from streamer.api.security import Auth, NoUsers
from streamer.api.streams import StreamGate
from streamer.auth import passwords
from streamer.auth.ratelimit import LoginLimiter
from streamer.auth.store import UserStore
from streamer.config.query import ApiConfig
from streamer.index import db
from streamer.media.objects import ObjectStoreError
from streamer.query.media import MediaUnavailable, UnknownMedia
from streamer.query.question import QuestionError
from streamer.query.service import NoIndex, QueryService
from streamer.query.timeexpr import TimeExpressionError
from streamer.record.cuts import CutsBusy
from streamer.timeparse import TimeFormatError

log = logging.getLogger("streamer.api")

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
    app.include_router(answers.router)
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
