"""The webhook's signature: HMAC-SHA256 over `<timestamp>.<body>` with the integration's secret, sent as
`X-Streamer-Signature: sha256=<hex>` beside `X-Streamer-Timestamp`. A receiver recomputes it over the raw body it
got and refuses old timestamps, so a captured request cannot be replayed later (docs/integrations.md)."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Streamer-Signature"
TIMESTAMP_HEADER = "X-Streamer-Timestamp"
MAX_AGE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signed: str, now: float, max_age_s: float = MAX_AGE_S) -> bool:
    """What a receiver does: the same HMAC, compared in constant time, and a timestamp no older than `max_age_s`."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent) > max_age_s:
        return False
    return hmac.compare_digest(signature(secret, sent, body), signed)
