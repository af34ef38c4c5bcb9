"""`streamer users add / list / remove / passwd / logout / token / tokens`: who may use the API and the console.
Passwords are asked for at the prompt (twice) or read from stdin, never from the command line, and never printed
or logged. A running server sees every change at its next request, and streams opened by a login that is gone
end within seconds."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from streamer.auth.users import Role
from streamer.cli.common import EXIT_CONFIG, CamerasOption, ConfigOption, checked_cameras, load_or_exit, refuse

users_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Users of the API: admins and viewers.")


def _store(config):
    from streamer.auth.store import UserStore

    loaded = load_or_exit(config)
    return loaded, UserStore.for_config(loaded)


def _password(name: str, from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = typer.prompt(f"password for {name}", hide_input=True)
    if typer.prompt("again", hide_input=True) != first:
        refuse("the two passwords differ")
    return first


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits and . _ @ -).", show_default=False)],
    config: ConfigOption,
    role: Annotated[
        Role, typer.Option(help="admin (everything) or viewer (cameras, alerts, questions).")
    ] = Role.VIEWER,
    camera: CamerasOption = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin's first line (scripts).")
    ] = False,
) -> None:
    """Add a user; a viewer given --camera sees only those cameras, on every endpoint."""
    from streamer.auth.passwords import WeakPassword
    from streamer.auth.store import UserError

    loaded, store = _store(config)
    cameras = tuple(checked_cameras(loaded, camera)) if camera else None
    try:
        user = store.add(name, role, _password(name, password_stdin), cameras)
    except (UserError, WeakPassword) as error:
        refuse(str(error))
    seen = ", ".join(user.cameras) if user.cameras else "every camera"
    where = "the site's database" if store.shared else store.path
    typer.echo(f"added {user.role.value} '{user.name}' ({seen}) to {where}")


@users_app.command("list")
def users_list(config: ConfigOption) -> None:
    """The users, their roles and cameras."""
    _, store = _store(config)
    users = store.users()
    for user in users:
        typer.echo(f"{user.name}  {user.role.value}  {', '.join(user.cameras) if user.cameras else 'every camera'}")
    if not users:
        typer.echo("no users: the API is open on loopback only (`streamer users add NAME --role admin -c …`)")


@users_app.command("remove")
def users_remove(name: Annotated[str, typer.Argument(show_default=False)], config: ConfigOption) -> None:
    """Remove a user with their sessions and API tokens."""
    _, store = _store(config)
    if not store.remove(name):
        typer.echo(f"error: no user '{name}'", err=True)
        raise typer.Exit(EXIT_CONFIG)
    typer.echo(f"removed '{name}'")


@users_app.command("passwd")
def users_passwd(
    name: Annotated[str, typer.Argument(show_default=False)],
    config: ConfigOption,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin's first line (scripts).")
    ] = False,
) -> None:
    """Give a user a new password; every session they have ends (their API tokens stay)."""
    from streamer.auth.passwords import WeakPassword
    from streamer.auth.store import UserError

    _, store = _store(config)
    if store.user(name) is None:
        refuse(f"no user '{name}'")
    try:
        ended = store.set_password(name, _password(name, password_stdin))
    except (UserError, WeakPassword) as error:
        refuse(str(error))
    typer.echo(f"new password for '{name}'; {ended} session(s) ended")


@users_app.command("logout")
def users_logout(name: Annotated[str, typer.Argument(show_default=False)], config: ConfigOption) -> None:
    """End every session of a user, in every browser (their streams stop within seconds; tokens stay)."""
    from streamer.auth.store import UserError

    _, store = _store(config)
    try:
        typer.echo(f"'{name}': {store.end_sessions(name)} session(s) ended")
    except UserError as error:
        refuse(str(error))


@users_app.command("token")
def users_token(
    name: Annotated[str, typer.Argument(show_default=False)],
    config: ConfigOption,
    label: Annotated[
        Optional[str], typer.Option(help="What the token is for (shown in `users tokens list`).", show_default=False)
    ] = None,
    expires: Annotated[
        str, typer.Option("--expires", metavar="LENGTH", help="How long it lasts: 30s, 12h, 90d, 2w (at most 3650d).")
    ] = "90d",
) -> None:
    """Make an API token for a program (Authorization: Bearer TOKEN); it is printed once and stored only hashed.
    `streamer users tokens list` shows its id, `streamer users tokens revoke ID` ends it."""
    from streamer.auth.store import UserError
    from streamer.auth.tokens import new_token
    from streamer.timeparse import TimeFormatError, parse_duration

    _, store = _store(config)
    try:
        typer.echo(new_token(store, name, label or "", parse_duration(expires)))
    except (UserError, TimeFormatError) as error:
        refuse(str(error))


tokens_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="API tokens: list and revoke them one by one."
)
users_app.add_typer(tokens_app, name="tokens")


@tokens_app.command("list")
def tokens_list(
    config: ConfigOption,
    name: Annotated[Optional[str], typer.Argument(help="Only this user's tokens.", show_default=False)] = None,
) -> None:
    """Each token's id, user, label, when it was made, when it expires and when it was last used."""
    from streamer.auth.tokens import tokens_of

    loaded, store = _store(config)
    tokens = tokens_of(store, name)
    for token in tokens:
        used = _when(token.last_used_ts, loaded.timezone) if token.last_used_ts else "never used"
        typer.echo(
            f"{token.id}  {token.name}  {token.label or '-'}  made {_when(token.created_ts, loaded.timezone)}  "
            f"expires {_when(token.expires_ts, loaded.timezone)}  {used}"
        )
    if not tokens:
        typer.echo("no tokens" + (f" for '{name}'" if name else ""))


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[
        str, typer.Argument(metavar="ID", help="The id `users tokens list` shows.", show_default=False)
    ],
    config: ConfigOption,
) -> None:
    """Revoke one token: the next request with it is a 401, and its open streams end within seconds."""
    from streamer.auth.store import UserError
    from streamer.auth.tokens import revoke

    _, store = _store(config)
    try:
        token = revoke(store, token_id)
    except UserError as error:
        refuse(str(error))
    typer.echo(f"revoked token {token.id} of '{token.name}'{f' ({token.label})' if token.label else ''}")


def _when(ts: float, timezone: str) -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.fromtimestamp(ts, ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
