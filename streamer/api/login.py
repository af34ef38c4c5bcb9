"""POST /login, POST /logout, GET /me: a session for a browser (the cookie and the CSRF token its page sends back
with every state-changing request).

Wrong passwords are limited (5 in 5 minutes) per key, each attempt counted before its password is checked: a
browser that once logged in as the user (its device cookie) has a count of its own; any other attempt counts for
the user name and for the address it comes from. So a stranger's guesses lock out strangers, not the user at their
own browser. The address is the connection's, or a trusted proxy's X-Forwarded-For (`api.trusted_proxies`)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from streamer.api.security import COOKIE, AuthMode, CurrentUser, session_of
from streamer.auth import devices
from streamer.auth.store import SESSION_S
from streamer.auth.users import LOCAL, User

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
    return Me(
        name=user.name,
        role=user.role.value,
        cameras=list(user.cameras) if user.cameras else None,
        csrf=csrf,
        auth=mode.value,
    )


def _limit_keys(request: Request, name: str) -> tuple[str, ...]:
    auth = request.app.state.auth
    device = auth.devices.device_of(request.cookies.get(devices.COOKIE), name)
    if device is not None:
        return (f"device:{device}",)
    address = request.client.host if request.client else "unknown"
    return (f"user:{name}", f"address:{address}")


@router.post("/login", response_model=Me)
async def login(request: Request, body: LoginRequest):
    auth = request.app.state.auth
    mode = auth.mode
    if mode is AuthMode.OPEN:
        return _me(LOCAL, None, mode)
    address = request.client.host if request.client else "unknown"
    keys = _limit_keys(request, body.name)
    wait = auth.limiter.begin(keys)  # counted now: parallel guesses cannot all pass before the first is checked
    if wait > 0:
        log.warning(
            "login refused: too many wrong passwords", extra={"fields": {"user": body.name, "address": address}}
        )
        raise HTTPException(
            429,
            f"too many wrong passwords; try again in {wait:.0f} s",
            headers={"Retry-After": str(max(1, round(wait)))},
        )
    user = await run_in_threadpool(auth.store.check_password, body.name, body.password)  # scrypt: off the event loop
    if user is None:
        log.warning("login refused", extra={"fields": {"user": body.name, "address": address}})
        raise HTTPException(401, "wrong user name or password")
    auth.limiter.succeeded(keys)
    previous = request.cookies.get(COOKIE)  # this browser's earlier session ends with this login
    session = await run_in_threadpool(auth.store.new_session, user, previous)
    log.info("login", extra={"fields": {"user": user.name, "address": address}})
    response = JSONResponse(_me(user, session.csrf, mode).model_dump())
    secure = auth.secure_cookies or request.url.scheme == "https"
    response.set_cookie(
        COOKIE, session.token, max_age=SESSION_S, httponly=True, samesite="strict", secure=secure, path="/"
    )
    device = await run_in_threadpool(auth.devices.issue, user.name)
    response.set_cookie(
        devices.COOKIE,
        device,
        max_age=devices.MAX_AGE_S,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/login",
    )
    return response


@router.post("/logout")
async def logout(request: Request, user: CurrentUser):
    session = await run_in_threadpool(session_of, request)
    if session is not None:
        await run_in_threadpool(request.app.state.auth.store.end_session, session.token)
    response = JSONResponse({"logged_out": user.name})
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/me", response_model=Me)
async def me(request: Request, user: CurrentUser):
    session = session_of(request)
    return _me(user, session.csrf if session else None, request.app.state.auth.mode)
