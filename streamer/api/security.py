"""Who is asking: a login session (cookie, HttpOnly, SameSite=Strict, Secure under HTTPS) whose state-changing
requests carry its CSRF token, or an API token (`Authorization: Bearer …`, for programs; no ambient credential,
so no CSRF). With no users and a loopback bind the API is open, as a command run on this machine would be;
`api.auth: none` opens it on purpose.

Whether a login is needed is decided again whenever the user store changes, not once at start: the first
`streamer users add` closes a running server within the request that follows it."""

from __future__ import annotations

import enum
import hmac
import logging
import threading
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from starlette.exceptions import HTTPException

from streamer.auth.devices import DeviceCookies
from streamer.auth.ratelimit import LoginLimiter
from streamer.auth.store import Session, UserStore
from streamer.auth.tokens import token_user
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
    api: ApiConfig
    limiter: LoginLimiter
    devices: DeviceCookies = field(init=False)
    _seen: tuple | None = field(default=None, init=False)
    _mode: AuthMode = field(default=AuthMode.OPEN, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self.devices = DeviceCookies(self.store)

    @property
    def mode(self) -> AuthMode:
        """Decided again whenever the user store's file changed (a stat per request, a query only after a change)."""
        if self.api.auth == "none":
            return AuthMode.OPEN
        version = self.store.version()
        with self._lock:
            if version != self._seen or version is None:
                self._mode = AuthMode.USERS if self.api.auth == "users" or self.store.exists() else AuthMode.OPEN
                self._seen = version
            return self._mode

    @property
    def secure_cookies(self) -> bool:
        return self.api.behind_https


def _auth(request: Request) -> Auth:
    return request.app.state.auth


def authenticate(request: Request, touch: bool = True) -> User:
    """The user of this request, or 401; a cookie session's unsafe request without its CSRF token is a 403.
    `touch`: a request, not a stream's re-check (which notes no token use)."""
    auth = _auth(request)
    if auth.mode is AuthMode.OPEN:
        return LOCAL
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        user = token_user(auth.store, header[7:].strip(), touch=touch)
        if user is None:
            raise HTTPException(401, "unknown, expired or revoked API token")
        return user
    session = session_of(request)
    if session is None:
        raise HTTPException(
            401,
            "log in first: POST /login, or send Authorization: Bearer <token> (`streamer users token NAME` makes one)",
        )
    method = getattr(request, "method", "GET")  # a WebSocket's handshake is a GET (its Origin is checked instead)
    if method not in _SAFE and not hmac.compare_digest(request.headers.get(CSRF_HEADER, ""), session.csrf):
        raise HTTPException(
            403, f"missing or wrong CSRF token: send the {CSRF_HEADER} header that /login and /me return"
        )
    return session.user


def current_user(request: Request) -> User:
    return authenticate(request)


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


def known_camera(request: Request, user: User, name: str) -> None:
    """A camera of this service that the user may see. A viewer limited to some cameras gets the same 403 for a
    camera that does not exist as for one they may not see, so no answer tells them another camera's name."""
    if user.cameras is not None:
        require_camera(user, name)
    if name not in request.app.state.cameras:
        raise HTTPException(404, f"no camera '{name}'")


def cameras_listed(user: User, every: list[str] | tuple[str, ...]) -> str:
    """The cameras an error message may name to this user."""
    return ", ".join(user.visible(list(every))) or "none"
