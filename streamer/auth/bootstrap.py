"""The first admin of a container: with no user in the store, `STREAMER_ADMIN_PASSWORD` (or a file named by
`STREAMER_ADMIN_PASSWORD_FILE`, for Docker and Kubernetes secrets) makes the admin `STREAMER_ADMIN_USER` (default
`admin`) when `streamer run` or `streamer serve` starts; once any user exists, it is never read again. So a
container can require a login from its first start, with no `streamer users add` typed into it."""

from __future__ import annotations

import os
from pathlib import Path

from streamer.auth.store import UserStore
from streamer.auth.users import Role

PASSWORD = "STREAMER_ADMIN_PASSWORD"
PASSWORD_FILE = "STREAMER_ADMIN_PASSWORD_FILE"
USER = "STREAMER_ADMIN_USER"


class BootstrapError(ValueError):
    pass


def first_admin(store: UserStore, environ: dict[str, str] | None = None) -> str | None:
    """The name of the admin made now, or None (users exist already, or no password is given)."""
    environ = dict(os.environ) if environ is None else environ
    password = environ.get(PASSWORD)
    if environ.get(PASSWORD_FILE):
        try:
            password = Path(environ[PASSWORD_FILE]).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as error:
            raise BootstrapError(f"{PASSWORD_FILE}: {error}") from None
    if not password or store.exists():
        return None
    name = environ.get(USER) or "admin"
    from streamer.auth.passwords import WeakPassword
    from streamer.auth.store import UserError

    try:
        store.add(name, Role.ADMIN, password)
    except (WeakPassword, UserError) as error:
        raise BootstrapError(f"{PASSWORD}: {error}") from None
    return name
