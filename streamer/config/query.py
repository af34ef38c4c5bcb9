"""The `query:` section (asking the recordings in plain language) and the `api:` section (the HTTP API that
`streamer run` and `streamer serve` expose)."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from streamer.config.base import StrictModel


class QueryConfig(StrictModel):
    max_hits: int = Field(10, ge=1, le=200, description="Hits listed per answer.")
    min_relevance: float = Field(
        0.42, ge=0, le=1, description="An event counts as a hit from this sentence similarity to the question on."
    )
    min_presence_relevance: float = Field(
        0.5, ge=0, le=1, description="The same for 'a car was in zone A' hits from the per-second track summary."
    )
    ground_top_k: int = Field(3, ge=0, le=50, description="Hits whose window the VLM is asked the question about.")
    vlm_timeout_s: float = Field(60.0, gt=0, le=3600, description="Past this, answer from the index and say so.")
    scan_window_s: float = Field(
        10.0, ge=2, le=120, description="`--scan`: footage is sent to the VLM in windows this long."
    )
    scan_max_windows: int = Field(20, ge=1, le=1000, description="`--scan`: at most this many windows per question.")
    clip_pad_s: float = Field(
        3.0, ge=0, le=60, description="A hit's clip starts this long before it and ends this long after."
    )


_HOST_NAME = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


class ApiConfig(StrictModel):
    enabled: bool = Field(True, description="`streamer run` serves the API (GET /query, /clips/{id}, /snapshots/{id}).")
    host: str = Field(
        "127.0.0.1", min_length=1, description="Bind address; only loopback unless you put a proxy in front."
    )
    port: int = Field(8765, ge=0, le=65535, description="0: any free port (it is logged).")
    auth: Literal["users", "none"] | None = Field(
        None,
        description="Who may use the API. Omitted: a login once `streamer users add` has made a user, open on "
        "loopback before that. `users`: always a login (a session or an API token), so any address may "
        "be bound. `none`: open to anyone who can reach the address, on purpose.",
    )
    allowed_hosts: tuple[str, ...] = Field(
        (),
        description="Names by which browsers reach the service (`cameras.example.com`, `*.example.com`). A request "
        "whose Host header is none of these, no loopback name (localhost) and no IP address of the bound "
        "address is answered 421: a web page whose name an attacker points at this machine (DNS "
        "rebinding) cannot read it.",
    )
    trusted_proxies: tuple[str, ...] = Field(
        (),
        description="Addresses or networks (10.0.0.0/8) of reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed; from anyone else those headers are ignored (the login limit "
        "counts per address).",
    )
    behind_https: bool = Field(
        False,
        description="The service is reached over HTTPS through a proxy that terminates TLS: the session cookie is "
        "sent only over HTTPS (Secure) and browsers are told to keep to HTTPS (HSTS).",
    )
    max_streams: int = Field(500, ge=1, le=100_000, description="Alert feeds and live pictures open at once, in all.")
    max_streams_per_user: int = Field(
        32,
        ge=1,
        le=10_000,
        description="The same for one user (a browser tab holds one feed and a live picture per camera shown).",
    )

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        names = tuple(item.lower().rstrip(".") for item in value)
        for name in names:
            if len(name) > 253 or not _HOST_NAME.match(name):
                raise ValueError(
                    f"'{name}' is not a host name (cameras.example.com, or *.example.com for every name "
                    "under it; no port, no scheme)"
                )
        return names

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"'{item}' is not an address or network (10.0.0.5, 10.0.0.0/8, ::1)") from None
        return value

    @model_validator(mode="after")
    def _open_only_when_said(self) -> "ApiConfig":
        if self.enabled and not is_loopback(self.host) and self.auth is None:
            raise PydanticCustomError(
                "open_api",
                "{host} is not a loopback address: say who may use it. api.auth: users requires a login "
                "(after `streamer users add`); api.auth: none (STREAMER_API_AUTH=none) serves it open on purpose, "
                "and anyone who can reach it could read every recording. Or bind 127.0.0.1",
                {"field": "host", "host": self.host},
            )
        return self


def is_wildcard(host: str) -> bool:
    """0.0.0.0 or ::, every address of the machine."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything
