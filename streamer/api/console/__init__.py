"""The web console: server-rendered pages (Jinja2) whose small scripts call the same JSON API as any program
(GET /cameras, /events, /alerts/stream, /events/{id}, POST /events/{id}/review). A page asks for a login the way
the API does; a viewer's page of another camera is a 403, like the API's. The API's own page (`/docs`, Swagger UI
served from this service, no CDN) and its OpenAPI document are behind the same login.

Each page's inline script carries the request's CSP nonce; after a login, the page goes back only to a path of
this site (`safe_next`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated
from urllib.parse import quote, urlsplit

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException

from streamer.alerts.messages import stored_alert
from streamer.api.security import AuthMode, CurrentUser, known_camera, require_camera, session_of
from streamer.auth.users import LOCAL, User

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False)
STATIC = StaticFiles(directory=str(HERE / "static"))
SWAGGER = StaticFiles(directory=str(Path(fastapi_offline.__file__).parent / "static"))  # Swagger UI's own files
_UNSAFE_NEXT = re.compile(r"[\\\x00-\x1f\x7f]")  # a backslash or a control character: browsers read /\x as //x
CameraName = Annotated[str, PathParam(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
EventId = Annotated[str, PathParam(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}-[0-9a-f]{16}$")]


class LoginFirst(Exception):
    def __init__(self, target: str):
        self.target = target


def page_user(request: Request) -> User:
    """The page's user; a page without a login goes to /login (and comes back after it)."""
    auth = request.app.state.auth
    if auth.mode is AuthMode.OPEN:
        return LOCAL
    session = session_of(request)
    if session is None:
        raise LoginFirst(request.url.path)
    return session.user


def safe_next(target: str) -> str:
    """Where a login may send the browser: a path of this site, else its front page. `//evil.com`, `/\\evil.com`,
    `https://evil.com` and anything with a control character are no path of this site."""
    if not target.startswith("/") or target.startswith("//") or _UNSAFE_NEXT.search(target):
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


def _page(request: Request, name: str, user: User, **context) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        name,
        {
            "user": user,
            "open": request.app.state.auth.mode is AuthMode.OPEN,
            "tz": request.app.state.service.config.timezone,
            **context,
        },
    )


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/"):  # noqa: A002 - the query parameter's name
    return templates.TemplateResponse(request, "login.html", {"next": safe_next(next), "user": None, "open": False})


@router.get("/", response_class=HTMLResponse)
async def cameras_page(request: Request):
    return _page(request, "cameras.html", page_user(request), title="Cameras")


@router.get("/alerts", response_class=HTMLResponse)
async def alerts_page(request: Request):
    user = page_user(request)
    return _page(request, "alerts.html", user, title="Alerts", cameras=user.visible(list(request.app.state.cameras)))


@router.get("/event/{event_id}", response_class=HTMLResponse)
async def event_page(request: Request, event_id: EventId):
    user = page_user(request)
    service = request.app.state.service

    def camera_of() -> str | None:
        conn = service.open_index()
        try:
            payload = stored_alert(conn, event_id)
        finally:
            conn.close()
        return payload.camera if payload is not None else None

    camera = await run_in_threadpool(camera_of)
    if camera is None:
        raise HTTPException(404, f"no event {event_id}")
    require_camera(user, camera)
    return _page(request, "event.html", user, title=f"Event {event_id}", event_id=event_id)


@router.get("/camera/{name}", response_class=HTMLResponse)
async def timeline_page(request: Request, name: CameraName):
    user = page_user(request)
    known_camera(request, user, name)
    return _page(request, "timeline.html", user, title=f"{name}: timeline", camera=name)


@router.get("/live/{name}", response_class=HTMLResponse)
async def live_page(request: Request, name: CameraName):
    user = page_user(request)
    known_camera(request, user, name)
    return _page(request, "live.html", user, title=f"{name}: live", camera=name)


@router.get("/camera/{name}/zones", response_class=HTMLResponse)
async def zones_page(request: Request, name: CameraName):
    user = page_user(request)
    known_camera(request, user, name)
    if not user.is_admin:
        raise HTTPException(403, "the zone editor is for admins")
    return _page(request, "zones.html", user, title=f"{name}: zones", camera=name)


@router.get("/ask", response_class=HTMLResponse)
async def ask_page(request: Request):
    return _page(request, "ask.html", page_user(request), title="Ask")


@router.get("/system", response_class=HTMLResponse)
async def system_page(request: Request):
    user = page_user(request)
    if not user.is_admin:
        raise HTTPException(403, "the system page is for admins")
    return _page(request, "system.html", user, title="System")


@router.get("/docs", response_class=HTMLResponse)
async def api_page(request: Request):
    return _page(request, "docs.html", page_user(request), title="API")


def install(app) -> None:
    app.include_router(router)
    app.mount("/static/swagger", SWAGGER, name="swagger")
    app.mount("/static", STATIC, name="static")

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(_user: CurrentUser) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.exception_handler(LoginFirst)
    async def login_first(_request: Request, exc: LoginFirst):
        return RedirectResponse(f"/login?next={quote(exc.target, safe='/')}", status_code=303)
