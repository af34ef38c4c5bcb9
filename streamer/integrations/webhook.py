"""Webhooks: each alert POSTed as its JSON, signed (signing.py), with a timeout, retries with backoff and jitter, a
dead letter after `retry.max_attempts`, and a per-event cooldown that thins out an event's updates (its `end`
always goes). A 4xx other than 408 and 429 is the receiver refusing this request for good: dead-lettered at once."""

from __future__ import annotations

import json
import threading
import time

import httpx

from streamer import metrics
from streamer.config.integrations import WebhookIntegration
from streamer.integrations.delivery import Alert, LinkReport, Permanent, with_retries
from streamer.integrations.filtering import Cooldown
from streamer.integrations.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from streamer.redact import redact_url

RETRIED_4XX = (408, 429)


class WebhookOutput:
    kind = "webhook"

    def __init__(self, name: str, config: WebhookIntegration):
        self.name = name
        self.config = config
        self.client = httpx.Client(
            timeout=config.timeout_s,
            follow_redirects=False,
            headers={"User-Agent": "streamer-webhook/1", **config.headers},
        )
        self.cooldown = Cooldown(config.cooldown_s)
        self.on_link: LinkReport = lambda _state, _reason: None

    def start(self) -> None:
        """Nothing to connect ahead: each delivery is a request of its own."""

    def deliver(self, alert: Alert, give_up: threading.Event) -> bool:
        event_id = alert.event.event_id
        if alert.event.state != "end" and not self.cooldown.allows(event_id):
            return False
        body = json.dumps(alert.payload, separators=(",", ":")).encode()
        with_retries(
            lambda: self._post(body, alert),
            self.config.retry,
            give_up,
            lambda _error: metrics.INTEGRATION_RETRIES.labels(self.name, self.kind).inc(),
            self.on_link,
        )
        self.cooldown.delivered(event_id)
        return True

    def _post(self, body: bytes, alert: Alert) -> None:
        timestamp = int(time.time())  # signed anew on every try: a retry after minutes is still fresh
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature(self.config.secret, timestamp, body),
            "X-Streamer-Event": alert.event.event_id,
            "X-Streamer-Delivery": alert.stream_id,
        }
        response = self.client.post(self.config.url, content=body, headers=headers)
        if response.is_success:
            return
        detail = f"HTTP {response.status_code} from {redact_url(self.config.url)}: {response.text[:200]}"
        if 400 <= response.status_code < 500 and response.status_code not in RETRIED_4XX:
            raise Permanent(detail)
        raise RuntimeError(detail)

    def close(self) -> None:
        self.client.close()
