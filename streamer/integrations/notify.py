"""Notifications through Apprise (e-mail, Slack, Telegram, ntfy and the rest): a short text from the config's
templates (camera, type, time in the configured zone, verdict, risk, description), the event's snapshot attached
where the service takes attachments, at most one per camera and event type per `cooldown_s`.

The message is sent as plain text (`NotifyFormat.TEXT`): a description is what a VLM wrote, words a person can hold
up to a camera, and a service that renders HTML or Markdown (e-mail, Telegram) gets it escaped, never as markup."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import apprise

from streamer import metrics
from streamer.config.integrations import NotifyIntegration
from streamer.core.text import plain_text
from streamer.integrations.delivery import Alert, DeadLetter, LinkReport, with_retries
from streamer.integrations.filtering import Cooldown
from streamer.storage import UnsafePath, resolve_inside


def template_fields(alert: dict, zone: ZoneInfo) -> dict[str, str]:
    def shown(ts: float | None) -> str:
        return "" if ts is None else datetime.fromtimestamp(ts, zone).strftime("%Y-%m-%d %H:%M:%S %Z")

    source = alert.get("source") or {}
    risk = alert.get("risk_level")
    return {
        "camera": alert.get("camera", ""),
        "type": alert.get("type", ""),
        "state": alert.get("state", ""),
        "label": alert.get("label", ""),
        "track_id": "" if alert.get("track_id") is None else str(alert["track_id"]),
        "time": shown(alert.get("start_ts")),
        "end_time": shown(alert.get("end_ts")),
        "verification": alert.get("verification", ""),
        "risk": f", risk {risk}" if risk else "",
        "description": plain_text(alert.get("description") or ""),
        "event_id": alert.get("event_id", ""),
        "confidence": f"{alert.get('confidence', 0):.2f}",
        "zone": source.get("zone") or "",
        "rule": source.get("rule") or "",
    }


class NotifyOutput:
    kind = "notify"

    def __init__(self, name: str, config: NotifyIntegration, storage_dir: Path, timezone: str):
        self.name = name
        self.config = config
        self.storage_dir = storage_dir
        self.zone = ZoneInfo(timezone)
        self.targets = []  # one Apprise per URL: a retry goes only to the services that have not taken it yet
        for number, url in enumerate(config.urls):
            target = apprise.Apprise()
            if not target.add(url):
                raise ValueError(
                    f"integrations.{name}.urls[{number}]: Apprise does not understand this URL "
                    "(https://github.com/caronc/apprise/wiki lists the forms)"
                )
            self.targets.append(target)
        self.cooldown = Cooldown(config.cooldown_s)
        self.on_link: LinkReport = lambda _state, _reason: None

    def start(self) -> None:
        """Nothing to connect ahead: each delivery is a request of its own."""

    def deliver(self, alert: Alert, give_up: threading.Event) -> bool:
        key = (alert.event.camera, alert.event.type)
        if not self.cooldown.allows(key):
            return False
        fields = template_fields(alert.payload, self.zone)
        title, body = self.config.title.format_map(fields), self.config.body.format_map(fields)
        attachment = self._snapshot(alert.event.snapshot)
        failed: list[DeadLetter] = []
        for number, target in enumerate(self.targets):
            try:
                with_retries(
                    lambda target=target: self._send(target, title, body, attachment),
                    self.config.retry,
                    give_up,
                    lambda _error: metrics.INTEGRATION_RETRIES.labels(self.name, self.kind).inc(),
                )
            except DeadLetter as dead:  # the other services still get it
                failed.append(DeadLetter(f"urls[{number}]: {dead.error}", dead.attempts))
        self.cooldown.delivered(key)
        if failed:  # said once for all the URLs: one broken service must not make the state flap with each alert
            self.on_link("down", "; ".join(dead.error for dead in failed)[:300])
            raise DeadLetter("; ".join(dead.error for dead in failed), max(dead.attempts for dead in failed))
        self.on_link("up", "")
        return True

    def _snapshot(self, snapshot: str) -> str | None:
        if not self.config.attach_snapshot or not snapshot:
            return None
        try:
            path = resolve_inside(self.storage_dir, snapshot)
        except UnsafePath:
            return None  # a path leaving the storage folder is never read
        return str(path) if path.is_file() else None

    @staticmethod
    def _send(target: apprise.Apprise, title: str, body: str, attachment: str | None) -> None:
        with apprise.LogCapture(level=logging.WARNING) as captured:
            sent = target.notify(title=title, body=body, attach=attachment, body_format=apprise.NotifyFormat.TEXT)
        if not sent:
            said = " ".join(captured.getvalue().split())[:500]
            raise RuntimeError(f"not sent: {said or 'the service refused it'}")

    def close(self) -> None:
        """Apprise holds no connection between notifications."""
