"""Users, API tokens and login sessions: in `<storage_dir>/users.sqlite3` (mode 600) on one machine, in the site's
PostgreSQL database with `index.url`, so that every API replica knows the same users and sessions. Tokens and
session ids are stored only as SHA-256 digests, so a copy of the database lets no one in; passwords only as scrypt
hashes. The tables and their migrations are the database's (streamer/index/schema.py, the `users` branch).

What ends access: a session after `SESSION_S` or at its logout, and all of a user's sessions at a password change,
`streamer users logout` or the user's removal; a login from a browser ends the session that browser had; a user
keeps at most `MAX_SESSIONS`, the oldest ending first. Tokens: see `tokens.py`."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.exc import IntegrityError

from streamer.auth.passwords import hash_password, needs_rehash, verify_password, verify_unknown
from streamer.auth.users import Role, User
from streamer.core.transaction import transaction
from streamer.index import db, migrate
from streamer.index.schema import meta, sessions, users
from streamer.index.store import upsert

FILE_NAME = "users.sqlite3"
SESSION_S = 12 * 3600
MAX_SESSIONS = 20  # per user: each browser holds one; a login past this ends the oldest
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
DEFAULT_TOKEN_DAYS = 90
_GENERATION = "generation"  # meta's key that every change of users or sessions renews (a server's version())
_USER = select(users.c.name, users.c.role, users.c.cameras)


class UserError(ValueError):
    """A user, role or camera that cannot be as asked (the message says why)."""


@dataclass(frozen=True)
class Session:
    token: str  # the cookie's value, known only to the browser and this object
    csrf: str
    user: User
    expires_ts: float


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def user_of(row) -> User:
    cameras = tuple(json.loads(row[2])) if row[2] else None
    return User(row[0], Role(row[1]), cameras)


class UserStore:
    def __init__(self, storage_dir: Path, url: str | None = None):
        self.url = url  # index.url: the site's database; None: the file
        self.path = storage_dir / FILE_NAME
        self._migrated = False

    @classmethod
    def for_config(cls, config) -> "UserStore":
        return cls(config.storage_dir, config.index.url)

    @property
    def shared(self) -> bool:
        return self.url is not None

    def version(self) -> tuple | str | None:
        """Changes whenever users or sessions change (a user added or removed, a session begun or ended): what the
        API watches to decide again whether a login is needed and whether a stream's user may still see it. A
        stat of the file; on a site's database, the generation every change renews (one primary-key read)."""
        if self.shared:
            with self.reading() as conn:
                return conn.execute(select(meta.c.value).where(meta.c.key == _GENERATION)).scalar()
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size, stat.st_ino

    def exists(self) -> bool:
        """Any user at all (the API then asks everyone to log in)."""
        if not self.shared and not self.path.exists():
            return False
        with self.reading() as conn:
            return conn.execute(select(users.c.name).limit(1)).first() is not None

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for reads (no transaction: a reader takes no lock)."""
        if not self.shared:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = db.engine(self.url or f"sqlite:///{self.path}").connect()
        try:
            if not self._migrated:  # `streamer run`, `serve` and the CLI share the store
                migrate.upgrade(conn, migrate.USERS)
                self._migrated = True
            yield conn
        finally:
            conn.close()
            if not self.shared:
                self.path.chmod(0o600)

    @contextmanager
    def conn(self) -> Iterator[Connection]:
        """A connection in a write transaction, committed when the block ends without an exception."""
        with self.reading() as conn, transaction(conn):
            yield conn

    def changed(self, conn: Connection) -> None:
        """Renew the generation (inside the change's transaction): every API replica sees users or sessions moved."""
        if self.shared:
            statement = upsert(conn, meta).values(key=_GENERATION, value=secrets.token_hex(8))
            conn.execute(
                statement.on_conflict_do_update(index_elements=["key"], set_={"value": statement.excluded.value})
            )

    def add(self, name: str, role: Role, password: str, cameras: tuple[str, ...] | None = None) -> User:
        if not NAME.match(name):
            raise UserError(f"'{name}' is not a user name (letters, digits and . _ @ -, at most 64)")
        if role is Role.ADMIN and cameras:
            raise UserError("an admin sees every camera; --camera is for viewers")
        stored = hash_password(password)
        try:
            with self.conn() as conn:
                conn.execute(
                    users.insert().values(
                        name=name,
                        role=role.value,
                        password=stored,
                        created_ts=time.time(),
                        cameras=json.dumps(list(cameras)) if cameras else None,
                    )
                )
                self.changed(conn)
        except IntegrityError:
            raise UserError(f"user '{name}' exists already (remove it first)") from None
        return User(name, role, cameras or None)

    def set_password(self, name: str, password: str) -> int:
        """A new password; every session of the user ends (their number is returned). API tokens stay."""
        stored = hash_password(password)
        with self.conn() as conn:
            if conn.execute(update(users).where(users.c.name == name).values(password=stored)).rowcount == 0:
                raise UserError(f"no user '{name}'")
            self.changed(conn)
            return conn.execute(delete(sessions).where(sessions.c.name == name)).rowcount

    def remove(self, name: str) -> bool:
        with self.conn() as conn:
            self.changed(conn)
            return conn.execute(delete(users).where(users.c.name == name)).rowcount > 0

    def users(self) -> list[User]:
        if not self.shared and not self.path.exists():
            return []
        with self.reading() as conn:
            return [user_of(row) for row in conn.execute(_USER.order_by(users.c.name))]

    def user(self, name: str) -> User | None:
        with self.reading() as conn:
            row = conn.execute(_USER.where(users.c.name == name)).first()
        return user_of(row) if row else None

    def check_password(self, name: str, password: str) -> User | None:
        """The user when the password is theirs. One scrypt whether the name exists or not; a hash made at an older
        cost is replaced by one at today's."""
        with self.reading() as conn:
            row = conn.execute(
                select(users.c.name, users.c.role, users.c.cameras, users.c.password).where(users.c.name == name)
            ).first()
        if row is None:
            verify_unknown(password)  # as slow as a real check: no user enumeration by time
            return None
        if not verify_password(password, row[3]):
            return None
        if needs_rehash(row[3]):
            with self.conn() as conn:
                conn.execute(
                    update(users)
                    .where(users.c.name == name, users.c.password == row[3])
                    .values(password=hash_password(password))
                )
        return user_of(row[:3])

    def new_session(self, user: User, replacing: str | None = None, now: float | None = None) -> Session:
        """A session for a login; `replacing`: the session the same browser had, which ends."""
        now = time.time() if now is None else now
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.conn() as conn:
            conn.execute(delete(sessions).where(sessions.c.expires_ts < now))
            if replacing:
                conn.execute(delete(sessions).where(sessions.c.digest == digest(replacing)))
            conn.execute(
                sessions.insert().values(
                    digest=digest(token), name=user.name, csrf=csrf, created_ts=now, expires_ts=now + SESSION_S
                )
            )
            kept = (
                select(sessions.c.digest)
                .where(sessions.c.name == user.name)
                .order_by(sessions.c.created_ts.desc())
                .limit(MAX_SESSIONS)
            )
            conn.execute(delete(sessions).where(sessions.c.name == user.name, sessions.c.digest.not_in(kept)))
            self.changed(conn)
        return Session(token, csrf, user, now + SESSION_S)

    def session(self, token: str, now: float | None = None) -> Session | None:
        now = time.time() if now is None else now
        with self.reading() as conn:
            row = conn.execute(
                select(users.c.name, users.c.role, users.c.cameras, sessions.c.csrf, sessions.c.expires_ts)
                .join_from(sessions, users, users.c.name == sessions.c.name)
                .where(sessions.c.digest == digest(token), sessions.c.expires_ts >= now)
            ).first()
        return Session(token, row[3], user_of(row[:3]), row[4]) if row else None

    def end_session(self, token: str) -> None:
        with self.conn() as conn:
            conn.execute(delete(sessions).where(sessions.c.digest == digest(token)))
            self.changed(conn)

    def end_sessions(self, name: str) -> int:
        """Log a user out everywhere: the number of sessions ended."""
        with self.conn() as conn:
            if conn.execute(select(users.c.name).where(users.c.name == name)).first() is None:
                raise UserError(f"no user '{name}'")
            self.changed(conn)
            return conn.execute(delete(sessions).where(sessions.c.name == name)).rowcount

    def secret(self, key: str) -> bytes:
        """A random secret kept in the store (made at its first use), e.g. the device cookies' signing key."""
        with self.conn() as conn:
            conn.execute(upsert(conn, meta).values(key=key, value=secrets.token_hex(32)).on_conflict_do_nothing())
            return bytes.fromhex(conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar_one())
