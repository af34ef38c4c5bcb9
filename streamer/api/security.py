"""Who is asking: a login session (cookie, HttpOnly, SameSite=Strict, Secure under HTTPS) whose state-changing
requests carry its CSRF token, or an API token (`Authorization: Bearer …`, for programs; no ambient credential,
so no CSRF). With no users and a loopback bind the API is open, as a command run on this machine would be;
`api.auth: none` opens it on purpose."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.exceptions import HTTPException

from streamer.auth.ratelimit import LoginLimiter
from streamer.auth.store import Session, UserStore
from streamer.auth.users import LOCAL, User
from streamer.config.query import ApiConfig

log = logging.getLogger("streamer.api")

COOKIE = "streamer_session"
CSRF_HEADER = "x-csrf-token"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


class AuthMode(enum.StrEnum):
    OPEN = "open"  # no login: api.auth none, or no users on loopback
    USERS = "users"


class NoUsers(RuntimeError):
    """api.auth: users with no user defined: nobody could log in."""


def auth_mode(api: ApiConfig, store: UserStore) -> AuthMode:
    if api.auth == "none":
        return AuthMode.OPEN
    if store.exists():
        return AuthMode.USERS
    if api.auth == "users":
        raise NoUsers("api.auth is 'users' but no user is defined: add one with `streamer users add NAME --role admin`")
    return AuthMode.OPEN  # the config refuses a non-loopback bind without api.auth, so this is loopback


@dataclass
class Auth:
    store: UserStore
    mode: AuthMode
    limiter: LoginLimiter


def _auth(request: Request) -> Auth:
    return request.app.state.auth


def current_user(request: Request) -> User:
    """The user of this request, or 401; a cookie session's unsafe request without its CSRF token is a 403."""
    auth = _auth(request)
    if auth.mode is AuthMode.OPEN:
        return LOCAL
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        user = auth.store.token_user(header[7:].strip())
        if user is None:
            raise HTTPException(401, "unknown or revoked API token")
        return user
    session = session_of(request)
    if session is None:
        raise HTTPException(401, "log in first: POST /login, or send Authorization: Bearer <token> "
                                 "(`streamer users token NAME` makes one)")
    if request.method not in _SAFE and request.headers.get(CSRF_HEADER) != session.csrf:
        raise HTTPException(403, f"missing or wrong CSRF token: send the {CSRF_HEADER} header that /login and /me return")
    return session.user


def session_of(request: Request) -> Session | None:
    token = request.cookies.get(COOKIE)
    return _auth(request).store.session(token) if token else None


CurrentUser = Annotated[User, Depends(current_user)]


def admin_only(user: CurrentUser) -> User:
    if not user.is_admin:
        raise HTTPException(403, "admins only")
    return user


def require_camera(user: User, camera: str) -> None:
    """A viewer limited to some cameras gets a 403 for any other one, whatever the endpoint."""
    if not user.may_see(camera):
        raise HTTPException(403, f"user '{user.name}' may not see camera '{camera}'")
