"""`streamer users add / list / remove / token`: who may use the API (and, next, the console). Passwords are asked
for at the prompt (twice) or read from stdin, never from the command line, and never printed or logged."""

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
    return loaded, UserStore(loaded.storage_dir)


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
    role: Annotated[Role, typer.Option(help="admin (everything) or viewer (cameras, alerts, questions).")] = Role.VIEWER,
    camera: CamerasOption = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin's first line (scripts).")] = False,
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
    typer.echo(f"added {user.role.value} '{user.name}' ({seen}) to {store.path}")


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


@users_app.command("token")
def users_token(
    name: Annotated[str, typer.Argument(show_default=False)],
    config: ConfigOption,
    label: Annotated[Optional[str], typer.Option(help="What the token is for (shown nowhere else).", show_default=False)] = None,
) -> None:
    """Make an API token for a program (Authorization: Bearer TOKEN); it is printed once and stored only hashed."""
    from streamer.auth.store import UserError

    _, store = _store(config)
    try:
        typer.echo(store.new_token(name, label or ""))
    except UserError as error:
        refuse(str(error))
