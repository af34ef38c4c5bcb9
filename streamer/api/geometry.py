"""The zone editor's API (admins): `GET /cameras/{name}/geometry` (the camera's zones, motion masks and rules as the
config file says now, with the file's version) and `PUT` of the same (written into the file with its comments
kept, checked exactly as the loader checks it, refused with the loader's messages; a running `streamer run`
takes the change as it takes any edit of its file). Every save is logged, and kept in
`<storage_dir>/audit/config.jsonl`, with who made it and what it changed."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from streamer.api.security import admin_only, known_camera
from streamer.auth.users import User
from streamer.config.diff import config_changes
from streamer.config.editing import EditRefused, edited_text, save_checked
from streamer.config.loader import ConfigError, parse_config_text

router = APIRouter()
log = logging.getLogger("streamer.api")
_saving = threading.Lock()  # one save at a time: each reads the file it replaces

Points = Annotated[list[Annotated[list[float], Field(min_length=2, max_length=2)]], Field(max_length=1000)]


class Geometry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    zones: dict[Annotated[str, Field(max_length=64)], Points] = Field(default_factory=dict, max_length=100)
    masks: list[Points] = Field(default_factory=list, max_length=100)
    rules: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=100,
        description="As in the config file (line_crossing rules carry their line).",
    )
    version: str = Field("", max_length=64, description="The file's version this edit was made on (from GET).")


class Saved(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str
    changes: list[str]


def _file(request: Request):
    path = request.app.state.config_path
    if path is None:
        raise HTTPException(409, "this API was started without a config file to edit")
    return path


def _version(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@router.get("/cameras/{name}/geometry", response_model=Geometry)
async def geometry(request: Request, name: str, admin: Annotated[User, Depends(admin_only)]) -> Geometry:
    known_camera(request, admin, name)
    path = _file(request)
    text = await run_in_threadpool(path.read_text, encoding="utf-8")
    try:
        camera = parse_config_text(text, str(path), path.resolve().parent).cameras[name]
    except (ConfigError, KeyError) as error:
        raise HTTPException(409, f"the config file does not load now: {error}") from None
    return Geometry(
        zones={zone: [list(p) for p in z.polygon] for zone, z in camera.zones.items()},
        masks=[[list(p) for p in mask] for mask in camera.detect.motion.masks],
        rules=[rule.model_dump(mode="json", exclude_defaults=True) | {"type": rule.type} for rule in camera.rules],
        version=_version(text),
    )


@router.put("/cameras/{name}/geometry", response_model=Saved)
async def save_geometry(
    request: Request, name: str, body: Geometry, admin: Annotated[User, Depends(admin_only)]
) -> Saved:
    known_camera(request, admin, name)
    return await run_in_threadpool(_save, request.app.state, _file(request), name, body, admin)


def _save(state, path, name: str, body: Geometry, admin: User) -> Saved:
    with _saving:
        text = path.read_text(encoding="utf-8")
        if body.version and body.version != _version(text):
            raise HTTPException(409, "the config file changed since this page read it: reload the page and edit again")
        try:
            before = parse_config_text(text, str(path), path.resolve().parent)
            new_text = edited_text(text, name, body.zones, body.masks, body.rules)
            after = save_checked(path, new_text)
        except EditRefused as error:
            raise HTTPException(409, str(error)) from None
        except ConfigError as error:
            raise HTTPException(422, "\n".join(issue.render(path.name) for issue in error.issues)) from None
    changes = config_changes(before, after).lines()
    entry = {"ts": time.time(), "user": admin.name, "camera": name, "changes": changes, "file": str(path)}
    log.info("config edited in the console", extra={"fields": entry})
    audit = state.service.config.storage_dir / "audit" / "config.jsonl"
    audit.parent.mkdir(parents=True, exist_ok=True)
    with audit.open("a", encoding="utf-8") as out:
        out.write(json.dumps(entry) + "\n")
    return Saved(version=_version(new_text), changes=changes)
