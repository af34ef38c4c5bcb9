"""POST /login, POST /logout, GET /me: a session for a browser (the cookie and the CSRF token its page sends back
with every state-changing request). Wrong passwords are rate limited per user name and per address."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from streamer.api.security import COOKIE, AuthMode, CurrentUser, session_of
from streamer.auth.store import SESSION_S
from streamer.auth.users import User

log = logging.getLogger("streamer.api")
router = APIRouter()


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class Me(BaseModel):
    """Who the request is from; `csrf` is the token a session's POSTs must carry in the X-CSRF-Token header."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    role: str
    cameras: list[str] | None = Field(description="The cameras this user may see; null: every camera.")
    csrf: str | None = None
    auth: str = Field(description="open (no login: no users on a loopback bind, or api.auth none) or users.")


def _me(user: User, csrf: str | None, mode: AuthMode) -> Me:
    return Me(name=user.name, role=user.role.value, cameras=list(user.cameras) if user.cameras else None, csrf=csrf,
              auth=mode.value)


@router.post("/login", response_model=Me)
async def login(request: Request, body: LoginRequest):
    auth = request.app.state.auth
    if auth.mode is AuthMode.OPEN:
        from streamer.auth.users import LOCAL

        return _me(LOCAL, None, auth.mode)
    address = request.client.host if request.client else "unknown"
    keys = (f"user:{body.name}", f"address:{address}")
    wait = auth.limiter.retry_after(keys)
    if wait > 0:
        raise HTTPException(429, f"too many wrong passwords; try again in {wait:.0f} s",
                            headers={"Retry-After": str(max(1, round(wait)))})
    user = await run_in_threadpool(auth.store.check_password, body.name, body.password)  # scrypt: off the event loop
    if user is None:
        auth.limiter.failed(keys)
        log.warning("login refused", extra={"fields": {"user": body.name, "address": address}})
        raise HTTPException(401, "wrong user name or password")
    auth.limiter.succeeded(keys)
    session = await run_in_threadpool(auth.store.new_session, user)
    log.info("login", extra={"fields": {"user": user.name, "address": address}})
    response = JSONResponse(_me(user, session.csrf, auth.mode).model_dump())
    response.set_cookie(COOKIE, session.token, max_age=SESSION_S, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")
    return response


@router.post("/logout")
async def logout(request: Request, user: CurrentUser):
    session = session_of(request)
    if session is not None:
        await run_in_threadpool(request.app.state.auth.store.end_session, session.token)
    response = JSONResponse({"logged_out": user.name})
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/me", response_model=Me)
async def me(request: Request, user: CurrentUser):
    session = session_of(request)
    return _me(user, session.csrf if session else None, request.app.state.auth.mode)
