"""FastAPI: `GET /query?q=…` returns the same JSON document as `streamer query --json`; `GET /clips/{id}` and
`GET /snapshots/{id}` serve a hit's files by the hit's id, never by a path.

One error path: every problem with a request is a 4xx with `{"error": message}` (a bad question or time 400, a
parameter of the wrong form 422, no such id 404, a file gone 410, no index yet 503); anything else is a bug,
logged with its traceback and answered 500 with the same shape and no detail.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from starlette.exceptions import HTTPException

from streamer.query.document import AnswerDocument
from streamer.query.media import MediaUnavailable, UnknownMedia
from streamer.query.question import QuestionError
from streamer.query.service import NoIndex, QueryService
from streamer.query.timeexpr import TimeExpressionError
from streamer.timeparse import TimeFormatError

log = logging.getLogger("streamer.api")

MAX_QUESTION = 2_000  # characters: a question, not a document
MAX_TIME = 100
MAX_ID = 64

_STATUS = {QuestionError: 400, TimeExpressionError: 400, TimeFormatError: 400, UnknownMedia: 404,
           MediaUnavailable: 410, NoIndex: 503}
_UNKNOWN_ID = "no such hit id; ids come from GET /query"


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(service: QueryService) -> FastAPI:
    app = FastAPI(title="streamer", summary="Ask the recordings: wall-clock answers with clips and evidence.",
                  docs_url="/docs", redoc_url=None)
    _error_path(app)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "cameras": list(service.config.cameras)}

    @app.get("/query", response_model=AnswerDocument)
    async def query(
        q: Annotated[str, Query(max_length=MAX_QUESTION, description="The question, e.g. 'when did the person fall'.")] = "",
        camera: Annotated[str | None, Query(max_length=MAX_ID, description="Only this camera (overrides the question).")] = None,
        since: Annotated[str | None, Query(max_length=MAX_TIME, description="ISO 8601, epoch seconds or relative (-2h).")] = None,
        until: Annotated[str | None, Query(max_length=MAX_TIME, description="Same forms.")] = None,
        scan: Annotated[bool, Query(description="Also show the VLM footage with no event.")] = False,
    ):
        # the model and the index are blocking: off the event loop
        return await run_in_threadpool(service.ask, q, camera, since, until, scan, False)

    @app.get("/clips/{hit_id}")
    async def clip(hit_id: str):
        return await _file(service.media.clip, hit_id, "video/mp4")

    @app.get("/snapshots/{hit_id}")
    async def snapshot(hit_id: str):
        return await _file(service.media.snapshot, hit_id, "image/jpeg")

    return app


def _error_path(app: FastAPI) -> None:
    for kind, status in _STATUS.items():
        app.add_exception_handler(kind, _known(status))

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'][1:]) or 'request'}: {e['msg']}" for e in exc.errors()]
        return error(422, "; ".join(problems))

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail))

    @app.middleware("http")
    async def bugs_are_logged(request: Request, call_next):
        try:
            return await call_next(request)
        except Exception:  # a bug, not the request's fault: the traceback goes to the log, not to the client
            log.exception("request failed", extra={"fields": {"method": request.method, "path": request.url.path}})
            return error(500, "internal error; it is in the service's log")


def _known(status: int):
    async def handler(_request: Request, exc: Exception) -> JSONResponse:
        return error(status, _UNKNOWN_ID if isinstance(exc, UnknownMedia) else str(exc))
    return handler


async def _file(make, hit_id: str, media_type: str):
    if len(hit_id) > MAX_ID:
        raise UnknownMedia(hit_id)
    path = await run_in_threadpool(make, hit_id)
    return FileResponse(path, media_type=media_type, filename=f"{hit_id}{path.suffix}")
