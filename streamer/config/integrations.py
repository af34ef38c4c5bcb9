"""The `integrations:` section: where alerts go besides the Redis stream. Each named output (MQTT with Home
Assistant discovery, a webhook, notifications through Apprise) is a consumer group of `<prefix>:alerts` with a
filter of its own; secrets come from `${ENV}` like everywhere else in the config."""

from __future__ import annotations

import string
from typing import Annotated, Literal

from pydantic import Field, field_validator

from streamer.config.base import Slug, StrictModel, check_url_form
from streamer.core.types import RiskLevel

TEMPLATE_FIELDS = (
    "camera",
    "type",
    "state",
    "label",
    "track_id",
    "time",
    "end_time",
    "verification",
    "risk",
    "description",
    "event_id",
    "confidence",
    "zone",
    "rule",
)
"""The names a notification's title and body may use, as {camera} or {time}."""


class AlertFilter(StrictModel):
    """Which alerts an output receives; an empty list lets everything through."""

    cameras: list[Slug] = Field(default_factory=list, description="Only these cameras (empty: all).")
    types: list[str] = Field(default_factory=list, description="Only these event types, e.g. fall (empty: all).")
    states: list[Literal["new", "update", "end"]] = Field(
        default_factory=lambda: ["new", "update", "end"], min_length=1, description="Which messages of an event."
    )
    verification: list[Literal["pending", "confirmed", "rejected", "unverified"]] = Field(
        default_factory=list, description="Only alerts whose VLM verification is one of these (empty: any)."
    )
    min_risk: RiskLevel | None = Field(
        None, description="Only alerts the VLM rated at least this risky (an alert without a rating does not pass)."
    )


class RetrySettings(StrictModel):
    max_attempts: int = Field(8, ge=1, le=1000, description="Tries before the alert goes to the dead letters.")
    backoff_s: float = Field(1.0, gt=0, le=3600, description="First wait between tries; doubles, with jitter.")
    backoff_max_s: float = Field(60.0, gt=0, le=86_400, description="The longest wait between tries.")


_KIND = "Which kind of output this is."
_ENABLED = "false: kept in the file, not run."
_FILTER = "Which alerts it receives (default: all)."
_RETRY = "Tries and the backoff between them."


class MqttIntegration(StrictModel):
    kind: Literal["mqtt"] = Field(description=_KIND)
    enabled: bool = Field(True, description=_ENABLED)
    filter: AlertFilter = Field(AlertFilter(), description=_FILTER)
    url: str = Field(
        description="mqtt://host:port or mqtts://host:port (TLS); user and password go in the fields below."
    )
    username: str | None = Field(None, description="For a broker that wants a login.")
    password: str | None = Field(None, description="From ${ENV}, never written into the file.")
    client_id: str | None = Field(None, description="Default: streamer-<integration name>.")
    topic_prefix: str = Field(
        "streamer",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$",
        description="<prefix>/available, <prefix>/events, <prefix>/<camera>/<rule>/state…",
    )
    qos: Literal[0, 1, 2] = Field(
        1, description="1: at least once; the group's position moves only on the broker's ack."
    )
    ca_file: str | None = Field(
        None, description="mqtts: the CA that signed the broker's certificate (default: the system's)."
    )
    tls_insecure: bool = Field(False, description="mqtts: accept any certificate (testing only).")
    keepalive_s: int = Field(
        30,
        ge=5,
        le=3600,
        description="MQTT keepalive: the broker sends the last will this long after the service went silent.",
    )
    discovery: bool = Field(True, description="Publish Home Assistant MQTT discovery configs (retained).")
    discovery_prefix: str = Field(
        "homeassistant", pattern=r"^[A-Za-z0-9][A-Za-z0-9_/-]{0,62}$", description="Home Assistant's discovery prefix."
    )
    snapshots: bool = Field(
        True, description="Publish each event's snapshot JPEG on <prefix>/<camera>/snapshot (retained)."
    )

    @field_validator("url")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        if not value.startswith(("mqtt://", "mqtts://")):
            raise ValueError("must start with mqtt:// or mqtts://")
        return check_url_form(value)


class WebhookIntegration(StrictModel):
    kind: Literal["webhook"] = Field(description=_KIND)
    enabled: bool = Field(True, description=_ENABLED)
    filter: AlertFilter = Field(AlertFilter(), description=_FILTER)
    url: str = Field(description="http:// or https:// address the alert JSON is POSTed to.")
    secret: str = Field(min_length=16, description="HMAC-SHA256 key for the X-Streamer-Signature header; from ${ENV}.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra request headers (e.g. an Authorization).")
    timeout_s: float = Field(5.0, gt=0, le=300, description="For the whole request.")
    retry: RetrySettings = Field(RetrySettings(), description=_RETRY)
    cooldown_s: float = Field(
        0.0,
        ge=0,
        le=86_400,
        description="Skip an event's later messages within this long of its last delivery; its `end` always goes.",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return check_url_form(value)


class NotifyIntegration(StrictModel):
    kind: Literal["notify"] = Field(description=_KIND)
    enabled: bool = Field(True, description=_ENABLED)
    filter: AlertFilter = Field(
        default_factory=lambda: AlertFilter(states=["new"]), description="Default: only an event's first message."
    )
    urls: list[str] = Field(
        min_length=1, description="Apprise URLs (mailto://, slack://, tgram://, ntfy://…); put their secrets in ${ENV}."
    )
    title: str = Field("{camera}: {type} ({label})", max_length=500, description="Template, with the body's fields.")
    body: str = Field(
        "{type} on {camera} at {time}: {label} #{track_id}, {verification}{risk}. {description}",
        max_length=5000,
        description=f"Fields: {', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)}.",
    )
    attach_snapshot: bool = Field(True, description="Attach the event's snapshot where the service takes attachments.")
    cooldown_s: float = Field(
        60.0,
        ge=0,
        le=86_400,
        description="At most one notification per camera and event type this often; 0: every alert.",
    )
    retry: RetrySettings = Field(RetrySettings(max_attempts=5), description=_RETRY + " Default: 5 tries.")

    @field_validator("title", "body")
    @classmethod
    def _known_fields(cls, value: str) -> str:
        try:
            names = [name for _, name, _, _ in string.Formatter().parse(value) if name is not None]
        except ValueError as error:
            raise ValueError(f"not a valid template: {error}") from None
        for name in names:
            if name not in TEMPLATE_FIELDS:
                raise ValueError(f"unknown field {{{name}}}; the fields are {', '.join(TEMPLATE_FIELDS)}")
        return value


IntegrationConfig = Annotated[MqttIntegration | WebhookIntegration | NotifyIntegration, Field(discriminator="kind")]


def check_integrations(section: dict[str, IntegrationConfig], cameras: set[str]) -> None:
    """Filters name cameras the config has (a typo would silently filter everything out)."""
    for name, output in section.items():
        unknown = sorted(set(output.filter.cameras) - cameras)
        if unknown:
            raise ValueError(
                f"integrations.{name}.filter.cameras: unknown camera {', '.join(unknown)}; "
                f"the cameras are {', '.join(sorted(cameras))}"
            )
