"""`<storage_dir>/users.sqlite3`: users, API tokens and login sessions. Tokens and session ids are stored only as
SHA-256 digests, so a copy of the file lets no one in; passwords only as scrypt hashes.

What ends access: a session after `SESSION_S` or at its logout, and all of a user's sessions at a password change,
`streamer users logout` or the user's removal; a login from a browser ends the session that browser had; a user
keeps at most `MAX_SESSIONS`, the oldest ending first. Tokens: see `tokens.py`."""

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

from streamer.auth.passwords import hash_password, needs_rehash, verify_password, verify_unknown
from streamer.auth.users import Role, User
from streamer.core import migrations

FILE_NAME = "users.sqlite3"
SESSION_S = 12 * 3600
MAX_SESSIONS = 20  # per user: each browser holds one; a login past this ends the oldest
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
DEFAULT_TOKEN_DAYS = 90
# each entry upgrades the file by one version (PRAGMA user_version); version 1 is the first release's schema
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, role TEXT NOT NULL, cameras TEXT, password TEXT NOT NULL,
                                      created_ts REAL NOT NULL);
    CREATE TABLE IF NOT EXISTS tokens (digest TEXT PRIMARY KEY, name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
                                       label TEXT NOT NULL, created_ts REAL NOT NULL, last_used_ts REAL);
    CREATE TABLE IF NOT EXISTS sessions (digest TEXT PRIMARY KEY, name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
                                         csrf TEXT NOT NULL, created_ts REAL NOT NULL, expires_ts REAL NOT NULL);
    """,
    # 2: tokens expire (those made before get 90 days from their making, and at least 30 from the upgrade, so no
    # program loses its access on the day it is upgraded); a secret for the device cookies of the login limit
    f"""
    ALTER TABLE tokens ADD COLUMN expires_ts REAL;
    UPDATE tokens SET expires_ts = MAX(created_ts + {DEFAULT_TOKEN_DAYS * 86400}, CAST(strftime('%s', 'now') AS REAL) + 30 * 86400);
    CREATE INDEX IF NOT EXISTS sessions_by_name ON sessions (name, created_ts);
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
)


class UserError(ValueError):
    """A user, role or camera that cannot be as asked (the message says why)."""


@dataclass(frozen=True)
class Session:
    token: str  # the cookie's value, known only to the browser and this object
    csrf: str
    user: User
    expires_ts: float


def _version(conn: sqlite3.Connection) -> int:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == 0 and conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'users'").fetchone():
        return 1  # the first release wrote no version
    return version


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def user_of(row) -> User:
    cameras = tuple(json.loads(row[2])) if row[2] else None
    return User(row[0], Role(row[1]), cameras)


class UserStore:
    def __init__(self, storage_dir: Path):
        self.path = storage_dir / FILE_NAME
        self._migrated = False

    def version(self) -> tuple[int, int, int] | None:
        """Changes whenever the file is written (a user added or removed, a session begun or ended): what the API
        watches to decide again whether a login is needed and whether a stream's user may still see it."""
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size, stat.st_ino

    def exists(self) -> bool:
        """Any user at all (the API then asks everyone to log in)."""
        if not self.path.exists():
            return False
        with self.conn() as conn:
            return conn.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None

    @contextmanager
    def conn(self) -> Iterator[sqlite3.Connection]:
        """A connection in a transaction, committed when the block ends without an exception."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            if not self._migrated:
                self._migrate(conn)
            with conn:
                yield conn
        finally:
            conn.close()
        self.path.chmod(0o600)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        migrations.migrate(conn, MIGRATIONS, _version)  # `streamer run`, `serve` and the CLI share the file
        self._migrated = True

    def add(self, name: str, role: Role, password: str, cameras: tuple[str, ...] | None = None) -> User:
        if not NAME.match(name):
            raise UserError(f"'{name}' is not a user name (letters, digits and . _ @ -, at most 64)")
        if role is Role.ADMIN and cameras:
            raise UserError("an admin sees every camera; --camera is for viewers")
        stored = hash_password(password)
        with self.conn() as conn:
            try:
                conn.execute("INSERT INTO users VALUES (?,?,?,?,?)",
                             (name, role.value, json.dumps(list(cameras)) if cameras else None, stored, time.time()))
            except sqlite3.IntegrityError:
                raise UserError(f"user '{name}' exists already (remove it first)") from None
        return User(name, role, cameras or None)

    def set_password(self, name: str, password: str) -> int:
        """A new password; every session of the user ends (their number is returned). API tokens stay."""
        stored = hash_password(password)
        with self.conn() as conn:
            if conn.execute("UPDATE users SET password = ? WHERE name = ?", (stored, name)).rowcount == 0:
                raise UserError(f"no user '{name}'")
            return conn.execute("DELETE FROM sessions WHERE name = ?", (name,)).rowcount

    def remove(self, name: str) -> bool:
        with self.conn() as conn:
            return conn.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount > 0

    def users(self) -> list[User]:
        if not self.path.exists():
            return []
        with self.conn() as conn:
            return [user_of(row) for row in conn.execute("SELECT name, role, cameras FROM users ORDER BY name")]

    def user(self, name: str) -> User | None:
        with self.conn() as conn:
            row = conn.execute("SELECT name, role, cameras FROM users WHERE name = ?", (name,)).fetchone()
        return user_of(row) if row else None

    def check_password(self, name: str, password: str) -> User | None:
        """The user when the password is theirs. One scrypt whether the name exists or not; a hash made at an older
        cost is replaced by one at today's."""
        with self.conn() as conn:
            row = conn.execute("SELECT name, role, cameras, password FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            verify_unknown(password)  # as slow as a real check: no user enumeration by time
            return None
        if not verify_password(password, row[3]):
            return None
        if needs_rehash(row[3]):
            with self.conn() as conn:
                conn.execute("UPDATE users SET password = ? WHERE name = ? AND password = ?",
                             (hash_password(password), name, row[3]))
        return user_of(row[:3])

    def new_session(self, user: User, replacing: str | None = None, now: float | None = None) -> Session:
        """A session for a login; `replacing`: the session the same browser had, which ends."""
        now = time.time() if now is None else now
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.conn() as conn:
            conn.execute("DELETE FROM sessions WHERE expires_ts < ?", (now,))
            if replacing:
                conn.execute("DELETE FROM sessions WHERE digest = ?", (digest(replacing),))
            conn.execute("INSERT INTO sessions VALUES (?,?,?,?,?)", (digest(token), user.name, csrf, now, now + SESSION_S))
            conn.execute("DELETE FROM sessions WHERE name = ? AND digest NOT IN (SELECT digest FROM sessions WHERE "
                         "name = ? ORDER BY created_ts DESC LIMIT ?)", (user.name, user.name, MAX_SESSIONS))
        return Session(token, csrf, user, now + SESSION_S)

    def session(self, token: str, now: float | None = None) -> Session | None:
        now = time.time() if now is None else now
        with self.conn() as conn:
            row = conn.execute("SELECT u.name, u.role, u.cameras, s.csrf, s.expires_ts FROM sessions s JOIN users u "
                               "ON u.name = s.name WHERE s.digest = ? AND s.expires_ts >= ?", (digest(token), now)).fetchone()
        return Session(token, row[3], user_of(row[:3]), row[4]) if row else None

    def end_session(self, token: str) -> None:
        with self.conn() as conn:
            conn.execute("DELETE FROM sessions WHERE digest = ?", (digest(token),))

    def end_sessions(self, name: str) -> int:
        """Log a user out everywhere: the number of sessions ended."""
        with self.conn() as conn:
            if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone() is None:
                raise UserError(f"no user '{name}'")
            return conn.execute("DELETE FROM sessions WHERE name = ?", (name,)).rowcount

    def secret(self, key: str) -> bytes:
        """A random secret kept in the file (made at its first use), e.g. the device cookies' signing key."""
        with self.conn() as conn:
            conn.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (key, secrets.token_hex(32)))
            return bytes.fromhex(conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])
