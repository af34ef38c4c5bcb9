"""Keep credentials out of logs, error messages and API answers.

A URL is masked by parsing it, not by pattern: the user-info ends at the *last* `@` before the host (a password may
hold `@`, as `admin:p@ss@cam` does), and every query parameter whose name says it is a credential is masked, whatever
its value holds. Free text (a log line, an FFmpeg error) has its URLs found first and each one masked the same way."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

MASK = "***"
# query parameter names that carry a secret: exact names, and names that end with one of these words
_SECRET_WORDS = (
    "password",
    "passwd",
    "pwd",
    "pass",
    "secret",
    "token",
    "key",
    "auth",
    "sig",
    "signature",
    "credential",
    "credentials",
    "session",
    "jwt",
    "apikey",
    "api_key",
    "access_key",
)
_SECRET_NAME = re.compile(r"(?i)^(?:.*[_.-])?(?:" + "|".join(re.escape(w) for w in _SECRET_WORDS) + r")$|^x-amz-")
# a URL inside free text: a scheme, then anything up to white space or a quote
_URL_IN_TEXT = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def is_secret_parameter(name: str) -> bool:
    return bool(_SECRET_NAME.match(name))


def redact_url(url: str) -> str:
    """``rtsp://user:p@ss@cam/s?token=x`` → ``rtsp://user:***@cam/s?token=***``. Anything that is no URL is
    returned as it is; a URL that cannot be parsed loses everything after its scheme rather than leak."""
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
        netloc = _masked_netloc(parts.netloc)
        query = _masked_query(parts.query)
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:  # an unparsable URL (a bad port, a broken IPv6 host): say nothing of its contents
        return url.split("://", 1)[0] + "://" + MASK


def scrub(text: str) -> str:
    """Mask the credentials of every URL found in ``text``."""
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)


def _masked_netloc(netloc: str) -> str:
    userinfo, at, host = netloc.rpartition("@")  # the host is after the last @; the user-info may hold more
    if not at:
        return netloc
    user, colon, _password = userinfo.partition(":")
    return f"{user}:{MASK}@{host}" if colon else f"{MASK}@{host}"


def _masked_query(query: str) -> str:
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    return "&".join(
        f"{quote(name, safe='')}={MASK if is_secret_parameter(name) else quote(value, safe='/:,')}"
        for name, value in pairs
    )
