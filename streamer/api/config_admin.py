"""`POST /config/reload` (admins): every `streamer run` of the site reads its config file again, as on SIGHUP or
when the file changes (runtime/reload.py). The file is checked here first, as the loader checks it, so an invalid
one is refused with its errors (422) and nothing is asked of the hosts; what a valid one would change is said
against what `streamer run` on this storage_dir runs (else against the config this API was started with)."""

from __future__ import annotations

import logging
from typing import Annotated

import redis
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from streamer.alerts.streams import reload_key
from streamer.api.security import admin_only
from streamer.auth.users import User
from streamer.config.diff import config_changes, running_fingerprint
from streamer.config.loader import ConfigError, load_config

router = APIRouter()
log = logging.getLogger("streamer.api")


class ReloadAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    asked: bool = Field(description="The hosts were asked to read the file again (they do within a second or two).")
    changes: list[str] = Field(description="What the file changes against the config this API runs with.")


@router.post("/config/reload", response_model=ReloadAnswer)
async def reload_config(request: Request, admin: Annotated[User, Depends(admin_only)]) -> ReloadAnswer:
    service = request.app.state.service
    path = request.app.state.config_path
    if path is None:
        raise HTTPException(409, "this API was started without a config file to read again")
    try:
        loaded = await run_in_threadpool(load_config, path)
    except ConfigError as error:
        raise HTTPException(422, str(error)) from None
    changes = config_changes(running_fingerprint(service.config.storage_dir) or service.config, loaded).lines()
    client = request.app.state.redis
    if client is None:
        raise HTTPException(503, "no Redis: the hosts cannot be asked (send SIGHUP to `streamer run` instead)")
    try:
        await client.incr(reload_key(request.app.state.streams.prefix))
    except redis.RedisError:
        raise HTTPException(503, "Redis cannot be reached; try again (or send SIGHUP to `streamer run`)") from None
    log.info("config reload asked", extra={"fields": {"user": admin.name, "changes": changes}})
    return ReloadAnswer(asked=True, changes=changes)
