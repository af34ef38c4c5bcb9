"""Serving the API with uvicorn, in the foreground (`streamer serve`) or on a thread of `streamer run`.
A port that cannot be bound is logged and the service runs on without it: the cameras matter more."""

from __future__ import annotations

import logging
import threading
import time

import uvicorn

from streamer.config.query import ApiConfig

log = logging.getLogger("streamer.api")


class ApiServer:
    def __init__(self, app, config: ApiConfig):
        self.app = app
        self.config = config
        # X-Forwarded-For and -Proto only from the proxies named (uvicorn believes loopback's by default, which let
        # anyone on this machine pick their address for the login limit); connections past the stream limit plus
        # room for ordinary requests are answered 503 by uvicorn before they cost a task
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=config.host,
                port=config.port,
                log_config=None,
                access_log=False,
                lifespan="off",
                proxy_headers=bool(config.trusted_proxies),
                forwarded_allow_ips=list(config.trusted_proxies) or [],
                server_header=False,
                limit_concurrency=config.max_streams + 500,
            )
        )
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int | None:
        servers = getattr(self._server, "servers", None) or []
        for server in servers:
            for sock in server.sockets:
                return sock.getsockname()[1]
        return None

    @property
    def url(self) -> str:
        host = self.config.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    def start(self, ready_timeout_s: float = 10.0) -> bool:
        self._thread = threading.Thread(target=self._run_quietly, name="api", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline and self._thread.is_alive() and not self._server.started:
            time.sleep(0.05)
        if self._server.started:
            log.info("api listening", extra={"fields": {"url": self.url}})
            return True
        log.error(
            "api not started: could not listen", extra={"fields": {"host": self.config.host, "port": self.config.port}}
        )
        return False

    def _run_quietly(self) -> None:
        try:
            self._server.run()
        except SystemExit:  # uvicorn exits when it cannot bind; the service runs on without the API
            pass

    def follow_config(self, running) -> None:
        """`streamer run` reloaded its config: the cameras listed, and their zones and rules, are the new ones."""
        service = self.app.state.service
        service.config = service.config.model_copy(update={"cameras": running.cameras})
        self.app.state.cameras = tuple(running.cameras)

    def wait(self, timeout_s: float | None = None) -> bool:
        """Until the server ends (or `timeout_s` passed); True while it still runs."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while self._thread is not None and self._thread.is_alive():
            if deadline is not None and time.monotonic() >= deadline:
                return True
            self._thread.join(0.5 if deadline is None else min(0.5, max(0.0, deadline - time.monotonic())))
        return False

    def stop(self, timeout_s: float = 5.0) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)
