"""FastAPI: `GET /query?q=…` returns the same JSON document as `streamer query --json`; `GET /clips/{id}` and
`GET /snapshots/{id}` serve a hit's files by the hit's id, never by a path."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import FastAPI, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse

from streamer.query.media import MediaUnavailable, UnknownMedia
from streamer.query.question import QuestionError
from streamer.query.service import NoIndex, QueryService

log = logging.getLogger("streamer.api")


def create_app(service: QueryService) -> FastAPI:
    app = FastAPI(title="streamer", summary="Ask the recordings: wall-clock answers with clips and evidence.",
                  docs_url="/docs", redoc_url=None)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "cameras": list(service.config.cameras)}

    @app.get("/query")
    async def query(
        q: Annotated[str, Query(description="The question, e.g. 'when did the person fall'.")] = "",
        camera: Annotated[str | None, Query(description="Only this camera (overrides the question).")] = None,
        since: Annotated[str | None, Query(description="ISO 8601, epoch seconds or relative (-2h).")] = None,
        until: Annotated[str | None, Query(description="Same forms.")] = None,
        scan: Annotated[bool, Query(description="Also show the VLM footage with no event.")] = False,
    ):
        try:
            # the model and the index are blocking: off the event loop
            doc = await run_in_threadpool(service.ask, q, camera, since, until, scan, False)
        except QuestionError as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        except NoIndex as error:
            return JSONResponse({"error": str(error)}, status_code=503)
        return doc

    @app.get("/clips/{hit_id}")
    async def clip(hit_id: str):
        return await _file(service.media.clip, hit_id, "video/mp4")

    @app.get("/snapshots/{hit_id}")
    async def snapshot(hit_id: str):
        return await _file(service.media.snapshot, hit_id, "image/jpeg")

    return app


async def _file(make, hit_id: str, media_type: str):
    try:
        path = await run_in_threadpool(make, hit_id)
    except UnknownMedia:
        return JSONResponse({"error": "no such hit id; ids come from GET /query"}, status_code=404)
    except (MediaUnavailable, NoIndex) as error:
        return JSONResponse({"error": str(error)}, status_code=410)
    return FileResponse(path, media_type=media_type, filename=f"{hit_id}{path.suffix}")
