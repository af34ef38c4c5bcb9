"""Device cookies (OWASP's "slow brute force protection using device cookies"): a browser that has logged in as a
user gets a signed cookie naming that user. Its later logins as that user are limited on their own count, not on
the user's: so strangers who send wrong passwords for a name lock out only the browsers that never logged in as
it, never the user at their own browser."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from streamer.auth.store import UserStore

COOKIE = "streamer_device"
MAX_AGE_S = 365 * 86400
_SECRET_KEY = "device_cookie_key"


class DeviceCookies:
    def __init__(self, store: UserStore):
        self.store = store
        self._key: bytes | None = None

    def issue(self, name: str) -> str:
        encoded = base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")
        nonce = secrets.token_urlsafe(12)
        return f"{encoded}.{nonce}.{self._mac(encoded, nonce)}"

    def device_of(self, value: str | None, name: str) -> str | None:
        """The device's id when `value` is a genuine cookie of this store for user `name`, else None."""
        if not value or value.count(".") != 2 or len(value) > 400:
            return None
        encoded, nonce, mac = value.split(".")
        if not hmac.compare_digest(mac, self._mac(encoded, nonce)):
            return None
        try:
            owner = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return nonce if owner == name else None

    def _mac(self, encoded: str, nonce: str) -> str:
        if self._key is None:
            self._key = self.store.secret(_SECRET_KEY)
        return hmac.new(self._key, f"{encoded}.{nonce}".encode(), hashlib.sha256).hexdigest()[:32]
