"""Keep credentials out of logs and error messages."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

# scheme://user:password@host  → scheme://user:***@host ; also a bare scheme://password@host is masked.
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/\s@]+)@")


def _mask_userinfo(match: re.Match[str]) -> str:
    user, sep, _password = match["userinfo"].partition(":")
    masked = f"{user}:***" if sep else "***"
    return f"{match['scheme']}{masked}@"


def scrub(text: str) -> str:
    """Mask the password part of every URL found in ``text``."""
    return _USERINFO.sub(_mask_userinfo, text)


def redact_url(url: str) -> str:
    """``rtsp://user:secret@cam/stream`` → ``rtsp://user:***@cam/stream``; query tokens are masked too."""
    url = scrub(url)
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = re.sub(r"(?i)((?:password|passwd|pwd|token|key|secret)=)[^&]*", r"\1***", parts.query)
    return urlunsplit(parts._replace(query=query))
