"""The web console: server-rendered pages (Jinja2) whose small scripts call the same JSON API as any program
(GET /cameras, /events, /alerts/stream, /events/{id}, POST /events/{id}/review). A page asks for a login the way
the API does; a viewer's page of another camera is a 403, like the API's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException

from streamer.api.security import AuthMode, require_camera, session_of
from streamer.auth.users import LOCAL, User
from streamer.index import store

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False)
STATIC = StaticFiles(directory=str(HERE / "static"))
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
        raise LoginFirst(str(request.url.path))
    return session.user


def _page(request: Request, name: str, user: User, **context) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"user": user, "open": request.app.state.auth.mode is AuthMode.OPEN,
                                                      **context})


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/"):  # noqa: A002 - the query parameter's name
    safe = next if next.startswith("/") and not next.startswith("//") else "/"  # never off this site
    return templates.TemplateResponse(request, "login.html", {"next": safe, "user": None, "open": False})


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
            payload = store.latest_payload(conn, event_id)
        finally:
            conn.close()
        return payload["camera"] if payload else None

    camera = await run_in_threadpool(camera_of)
    if camera is None:
        raise HTTPException(404, f"no event {event_id}")
    require_camera(user, camera)
    return _page(request, "event.html", user, title=f"Event {event_id}", event_id=event_id)


@router.get("/camera/{name}", response_class=HTMLResponse)
async def timeline_page(request: Request, name: CameraName):
    user = page_user(request)
    if name not in request.app.state.cameras:
        raise HTTPException(404, f"no camera '{name}'")
    require_camera(user, name)
    return _page(request, "timeline.html", user, title=f"{name}: timeline", camera=name)


@router.get("/ask", response_class=HTMLResponse)
async def ask_page(request: Request):
    return _page(request, "ask.html", page_user(request), title="Ask")


@router.get("/system", response_class=HTMLResponse)
async def system_page(request: Request):
    user = page_user(request)
    if not user.is_admin:
        raise HTTPException(403, "the system page is for admins")
    return _page(request, "system.html", user, title="System")


def install(app) -> None:
    app.include_router(router)
    app.mount("/static", STATIC, name="static")

    @app.exception_handler(LoginFirst)
    async def login_first(_request: Request, exc: LoginFirst):
        return RedirectResponse(f"/login?next={exc.target}", status_code=303)
