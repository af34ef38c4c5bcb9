"""`<storage_dir>/users.sqlite3`: users, API tokens and login sessions. Tokens and session ids are stored only as
SHA-256 digests, so a copy of the file lets no one in; passwords only as scrypt hashes."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from streamer.auth.passwords import hash_password, verify_password
from streamer.auth.users import Role, User

FILE_NAME = "users.sqlite3"
SESSION_S = 12 * 3600
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, role TEXT NOT NULL, cameras TEXT, password TEXT NOT NULL,
                                  created_ts REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (digest TEXT PRIMARY KEY, name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
                                   label TEXT NOT NULL, created_ts REAL NOT NULL, last_used_ts REAL);
CREATE TABLE IF NOT EXISTS sessions (digest TEXT PRIMARY KEY, name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
                                     csrf TEXT NOT NULL, created_ts REAL NOT NULL, expires_ts REAL NOT NULL);
"""


class UserError(ValueError):
    """A user, role or camera that cannot be as asked (the message says why)."""


@dataclass(frozen=True)
class Session:
    token: str  # the cookie's value, known only to the browser and this object
    csrf: str
    user: User
    expires_ts: float


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class UserStore:
    def __init__(self, storage_dir: Path):
        self.path = storage_dir / FILE_NAME

    def exists(self) -> bool:
        """Any user at all (the API then asks everyone to log in)."""
        if not self.path.exists():
            return False
        with self._conn() as conn:
            return conn.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.executescript(_SCHEMA)
            with conn:
                yield conn
        finally:
            conn.close()
        self.path.chmod(0o600)

    def add(self, name: str, role: Role, password: str, cameras: tuple[str, ...] | None = None) -> User:
        if not NAME.match(name):
            raise UserError(f"'{name}' is not a user name (letters, digits and . _ @ -, at most 64)")
        if role is Role.ADMIN and cameras:
            raise UserError("an admin sees every camera; --camera is for viewers")
        stored = hash_password(password)
        with self._conn() as conn:
            try:
                conn.execute("INSERT INTO users VALUES (?,?,?,?,?)",
                             (name, role.value, json.dumps(list(cameras)) if cameras else None, stored, time.time()))
            except sqlite3.IntegrityError:
                raise UserError(f"user '{name}' exists already (remove it first)") from None
        return User(name, role, cameras or None)

    def remove(self, name: str) -> bool:
        with self._conn() as conn:
            return conn.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount > 0

    def users(self) -> list[User]:
        if not self.path.exists():
            return []
        with self._conn() as conn:
            return [self._user(row) for row in conn.execute("SELECT name, role, cameras FROM users ORDER BY name")]

    def user(self, name: str) -> User | None:
        with self._conn() as conn:
            row = conn.execute("SELECT name, role, cameras FROM users WHERE name = ?", (name,)).fetchone()
        return self._user(row) if row else None

    def check_password(self, name: str, password: str) -> User | None:
        with self._conn() as conn:
            row = conn.execute("SELECT name, role, cameras, password FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            verify_password(password, hash_password("x" * 16))  # as slow as a real check: no user enumeration by time
            return None
        return self._user(row[:3]) if verify_password(password, row[3]) else None

    def new_token(self, name: str, label: str = "") -> str:
        token = "stk_" + secrets.token_urlsafe(32)
        with self._conn() as conn:
            if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone() is None:
                raise UserError(f"no user '{name}'")
            conn.execute("INSERT INTO tokens VALUES (?,?,?,?,NULL)", (_digest(token), name, label, time.time()))
        return token

    def token_user(self, token: str) -> User | None:
        with self._conn() as conn:
            row = conn.execute("SELECT u.name, u.role, u.cameras FROM tokens t JOIN users u ON u.name = t.name "
                               "WHERE t.digest = ?", (_digest(token),)).fetchone()
            if row:
                conn.execute("UPDATE tokens SET last_used_ts = ? WHERE digest = ?", (time.time(), _digest(token)))
        return self._user(row) if row else None

    def new_session(self, user: User, now: float | None = None) -> Session:
        now = time.time() if now is None else now
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._conn() as conn:
            conn.execute("DELETE FROM sessions WHERE expires_ts < ?", (now,))
            conn.execute("INSERT INTO sessions VALUES (?,?,?,?,?)", (_digest(token), user.name, csrf, now, now + SESSION_S))
        return Session(token, csrf, user, now + SESSION_S)

    def session(self, token: str, now: float | None = None) -> Session | None:
        now = time.time() if now is None else now
        with self._conn() as conn:
            row = conn.execute("SELECT u.name, u.role, u.cameras, s.csrf, s.expires_ts FROM sessions s JOIN users u "
                               "ON u.name = s.name WHERE s.digest = ? AND s.expires_ts >= ?", (_digest(token), now)).fetchone()
        return Session(token, row[3], self._user(row[:3]), row[4]) if row else None

    def end_session(self, token: str) -> None:
        with self._conn() as conn:
            conn.execute("DELETE FROM sessions WHERE digest = ?", (_digest(token),))

    @staticmethod
    def _user(row) -> User:
        cameras = tuple(json.loads(row[2])) if row[2] else None
        return User(row[0], Role(row[1]), cameras)
