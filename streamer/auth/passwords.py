"""Password hashes with scrypt at OWASP's cost (N=2^17, r=8, p=1: 128 MiB and about a third of a second a guess), in
one self-describing string `scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>`, so a hash made at a lower cost still
verifies and is replaced at its owner's next login (`needs_rehash`).

Each check costs exactly one scrypt, also for a name that does not exist (it is checked against a hash made once
at the current cost), so the time of an answer does not tell which names exist. At most `PARALLEL` checks run at
once: forty simultaneous logins wait their turn instead of asking for 5 GB of memory."""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
import threading

N, R, P = 2**17, 8, 1
_MAXMEM = 256 * 1024 * 1024  # scrypt needs 128 * r * N bytes (128 MiB here) and a little more
MIN_LENGTH = 8
PARALLEL = max(1, min(4, os.cpu_count() or 1))
_slots = threading.BoundedSemaphore(PARALLEL)


class WeakPassword(ValueError):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    return _hash(password, secrets.token_bytes(16), N, R, P)


def _hash(password: str, salt: bytes, n: int, r: int, p: int) -> str:
    with _slots:
        digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        computed = _hash(password, bytes.fromhex(salt), int(n), int(r), int(p)).rsplit("$", 1)[1]
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(computed, digest)


def verify_unknown(password: str) -> bool:
    """What checking a password for a name that does not exist costs: one scrypt at the current cost, never True."""
    verify_password(password, _stand_in())
    return False


@functools.cache
def _stand_in() -> str:
    return _hash(secrets.token_urlsafe(16), secrets.token_bytes(16), N, R, P)


def needs_rehash(stored: str) -> bool:
    """A hash made at a lower cost than today's (replaced with a new one at the next good login)."""
    try:
        kind, n, r, p, *_ = stored.split("$")
        return kind != "scrypt" or (int(n), int(r), int(p)) != (N, R, P)
    except ValueError:
        return True
