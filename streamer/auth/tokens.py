"""API tokens (`Authorization: Bearer stk_…`, for programs): each expires (after 90 days unless made with another
lifetime), can be listed and revoked one by one, and goes with its user. A token is printed once and stored only as
its SHA-256 digest; its id, the digest's first 12 hex digits, names it in lists and revocations without being
usable in its place."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update

from streamer.auth.store import DEFAULT_TOKEN_DAYS, UserError, UserStore, digest, user_of
from streamer.auth.users import User
from streamer.index.schema import tokens, users

PREFIX = "stk_"
ID_LENGTH = 12
MAX_S = 3650 * 86400.0
_TOUCH_S = 300.0  # last use is written at most this often: a token polled every second must not write every second


@dataclass(frozen=True)
class TokenInfo:
    id: str
    name: str
    label: str
    created_ts: float
    expires_ts: float
    last_used_ts: float | None


def new_token(
    store: UserStore,
    name: str,
    label: str = "",
    lifetime_s: float = DEFAULT_TOKEN_DAYS * 86400.0,
    now: float | None = None,
) -> str:
    if not 0 < lifetime_s <= MAX_S:
        raise UserError(f"a token lasts from a second to {MAX_S / 86400:.0f} days, not {lifetime_s:g} s")
    now = time.time() if now is None else now
    token = PREFIX + secrets.token_urlsafe(32)
    with store.conn() as conn:
        if conn.execute(select(users.c.name).where(users.c.name == name)).first() is None:
            raise UserError(f"no user '{name}'")
        conn.execute(
            tokens.insert().values(
                digest=digest(token),
                name=name,
                label=label,
                created_ts=now,
                last_used_ts=None,
                expires_ts=now + lifetime_s,
            )
        )
        store.changed(conn)
    return token


def token_user(store: UserStore, token: str, touch: bool = True, now: float | None = None) -> User | None:
    """The user of a token that exists and has not expired; `touch`: note its use (a request, not a re-check)."""
    now = time.time() if now is None else now
    key = digest(token)
    with store.reading() as conn:
        row = conn.execute(
            select(users.c.name, users.c.role, users.c.cameras, tokens.c.last_used_ts)
            .join_from(tokens, users, users.c.name == tokens.c.name)
            .where(tokens.c.digest == key, tokens.c.expires_ts > now)
        ).first()
    if row and touch and (row[3] or 0) < now - _TOUCH_S:
        with store.conn() as conn:
            conn.execute(update(tokens).where(tokens.c.digest == key).values(last_used_ts=now))
    return user_of(row[:3]) if row else None


_INFO = select(
    tokens.c.digest, tokens.c.name, tokens.c.label, tokens.c.created_ts, tokens.c.expires_ts, tokens.c.last_used_ts
)


def tokens_of(store: UserStore, name: str | None = None) -> list[TokenInfo]:
    if not store.shared and not store.path.exists():
        return []
    query = _INFO.where(tokens.c.name == name) if name is not None else _INFO
    with store.reading() as conn:
        rows = conn.execute(query.order_by(tokens.c.name, tokens.c.created_ts)).all()
    return [TokenInfo(row[0][:ID_LENGTH], *row[1:]) for row in rows]


def revoke(store: UserStore, token_id: str) -> TokenInfo:
    """Revoke the one token with this id (the revoked token is returned)."""
    if len(token_id) != ID_LENGTH or any(c not in "0123456789abcdef" for c in token_id):
        raise UserError(f"'{token_id}' is not a token id (12 hex digits, as `streamer users tokens list` shows)")
    with store.conn() as conn:
        rows = conn.execute(_INFO.where(func.substr(tokens.c.digest, 1, ID_LENGTH) == token_id)).all()
        if len(rows) != 1:
            raise UserError(f"no token {token_id}" if not rows else f"{len(rows)} tokens share the id {token_id}")
        conn.execute(delete(tokens).where(tokens.c.digest == rows[0][0]))
        store.changed(conn)
    return TokenInfo(token_id, *rows[0][1:])
