"""What every request passes before any route sees it (pure ASGI middleware, so nothing reads a body it refuses):

- `HostGuard`: the Host header must name this service. A web page whose own name an attacker re-points at
  127.0.0.1 (DNS rebinding) sends its own name as Host: it is answered 421 and reads nothing, whether or not a
  login is needed. Accepted: loopback names (localhost, *.localhost), IP addresses that reach the bound address
  (every address when it is 0.0.0.0 or ::; a name that rebinding could re-point is never an IP address), the
  bound host name, and `api.allowed_hosts`.
- `BodyLimit`: a body over the limit is answered 413 without being read: from its Content-Length at once, or
  as soon as a chunked body passes the limit; the connection is closed after the answer.
- `BugsAreLogged`: an exception out of a route is a bug: its traceback goes to the log and the client gets a bare
  JSON 500. (Pure ASGI, not Starlette's BaseHTTPMiddleware, which hides a client's disconnect from a stream.)
- `SecurityHeaders`: CSP with a fresh nonce for the pages' inline scripts (`request.state.csp_nonce`), no framing,
  no sniffing, no referrer off the site, HSTS when served over HTTPS, and no caching of pages and JSON.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import secrets

from streamer.config.query import is_wildcard

log = logging.getLogger("streamer.api")
MAX_BODY = 64 * 1024  # the largest JSON any route takes (a login, a review with its note) is a few KB
_HOST_SHOWN = 100


def _send_error(send, status: int, message: str, close: bool = False):
    headers = [(b"content-type", b"application/json")]
    if close:
        headers.append((b"connection", b"close"))
    body = json.dumps({"error": message}).encode()
    headers.append((b"content-length", str(len(body)).encode()))

    async def sending() -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return sending()


def _header(scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return None


def host_name(header: str) -> str:
    """The name in a Host header, without its port, lower case, without a trailing dot ('' when malformed)."""
    header = header.strip().lower()
    if header.startswith("["):
        end = header.find("]")
        return header[1:end] if end > 0 else ""
    if header.count(":") == 1:
        header = header.split(":", 1)[0]
    return header.rstrip(".")


class HostRules:
    def __init__(self, bound: str, allowed: tuple[str, ...]):
        self.bound = bound.strip("[]").lower()
        self.wildcard = is_wildcard(self.bound)
        self.exact = {name for name in allowed if not name.startswith("*.")}
        # "*.example.com" allows every name ending ".example.com", not example.com itself
        self.suffixes = tuple(name[1:] for name in allowed if name.startswith("*."))

    def allows(self, name: str) -> bool:
        if not name:
            return False
        if name == "localhost" or name.endswith(".localhost"):
            return True
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            return name == self.bound or name in self.exact or any(name.endswith(end) for end in self.suffixes)
        return address.is_loopback or self.wildcard or name == self.bound


class HostGuard:
    def __init__(self, app, rules: HostRules):
        self.app = app
        self.rules = rules

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        raw = _header(scope, b"host")
        if raw is None:
            return await _send_error(send, 400, "a Host header is required")
        name = host_name(raw.decode("latin-1"))
        if not self.rules.allows(name):
            shown = name[:_HOST_SHOWN]
            return await _send_error(
                send,
                421,
                f"this service is not served as '{shown}': if that name is yours, add it to api.allowed_hosts",
            )
        return await self.app(scope, receive, send)


class BodyLimit:
    def __init__(self, app, max_bytes: int = MAX_BODY):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        message = f"the request body is over {self.max_bytes} bytes; nothing here takes more"
        length = _header(scope, b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                return await _send_error(send, 400, "Content-Length is not a number", close=True)
            if declared > self.max_bytes:
                return await _send_error(send, 413, message, close=True)
        received = 0
        over = False
        started = False

        async def limited_receive():
            nonlocal received, over
            event = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > self.max_bytes:
                    over = True  # the route sees the client leave; what it answers is replaced by the 413
                    return {"type": "http.disconnect"}
            return event

        async def checked_send(event):
            nonlocal started
            if over:
                if not started:
                    started = True
                    await _send_error(send, 413, message, close=True)
                return
            started = started or event["type"] == "http.response.start"
            await send(event)

        await self.app(scope, limited_receive, checked_send)
        if over and not started:  # the route answered nothing after the disconnect it was shown
            await _send_error(send, 413, message, close=True)


class BugsAreLogged:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracked(event):
            nonlocal started
            started = started or event["type"] == "http.response.start"
            await send(event)

        try:
            await self.app(scope, receive, tracked)
        except Exception:  # a bug, not the request's fault: the traceback goes to the log, not to the client
            fields = {"method": scope.get("method"), "path": scope.get("path")}
            log.exception("request failed", extra={"fields": fields})
            if not started:
                await _send_error(send, 500, "internal error; it is in the service's log")


class SecurityHeaders:
    def __init__(self, app, https: bool = False):
        self.app = app
        self.https = https

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        https = self.https or scope.get("scheme") == "https"

        async def with_headers(event):
            if event["type"] == "http.response.start":
                headers = list(event.get("headers", []))
                present = {key.lower() for key, _ in headers}
                headers += [(key, value) for key, value in _fixed(nonce, https) if key not in present]
                kind = dict(headers).get(b"content-type", b"")
                if b"cache-control" not in present and kind.startswith((b"application/json", b"text/html")):
                    headers.append((b"cache-control", b"no-store"))
                event = {**event, "headers": headers}
            await send(event)

        await self.app(scope, receive, with_headers)


def csp(nonce: str) -> str:
    return (
        "default-src 'self'; script-src 'self' 'nonce-" + nonce + "'; style-src 'self'; "
        "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; font-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def _fixed(nonce: str, https: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-security-policy", csp(nonce).encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"cross-origin-resource-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    ]
    if https:
        headers.append((b"strict-transport-security", b"max-age=31536000"))
    return headers
