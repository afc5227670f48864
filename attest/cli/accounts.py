"""``attest users`` and ``attest apikeys``, and the first admin that ``attest demo`` creates."""

from __future__ import annotations

from typing import Annotated

import typer

from attest.cli.common import caller, guard, ready, split

users_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys for integrations.", no_args_is_help=True)


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Option("--username", help="Sign-in name.")],
    role: Annotated[str, typer.Option("--role", help="admin, editor or viewer.")],
    groups: Annotated[str | None, typer.Option("--groups", help="Comma-separated groups.")] = None,
    password: Annotated[
        str | None,
        typer.Option("--password", help="At least 8 characters; generated and printed when omitted."),
    ] = None,
) -> None:
    """Create a user account."""
    from attest.core import audit
    from attest.core.accounts import create_user
    from attest.core.db import session_scope

    ready()
    with guard(ValueError), session_scope() as session:
        user, generated = create_user(
            session, username=username, role=role, groups=split(groups) or [], password=password
        )
        audit.append(
            session, actor=caller(), action="user.create", details={"username": username, "role": role}
        )
    typer.echo(f"created user {user.username} ({role})", err=True)
    if generated:
        typer.echo(f"password: {generated}  (shown once)")


@keys_app.command("create")
def apikeys_create(
    name: Annotated[str, typer.Option("--name", help="What the key is for.")],
    role: Annotated[str, typer.Option("--role", help="admin, editor or viewer.")] = "viewer",
    kbs: Annotated[
        str | None, typer.Option("--kbs", help="Comma-separated knowledge bases it may use.")
    ] = None,
    groups: Annotated[str | None, typer.Option("--groups", help="Groups it reads documents as.")] = None,
) -> None:
    """Create an API key; it is printed once and stored only as a hash."""
    from attest.core import audit
    from attest.core.accounts import create_api_key
    from attest.core.db import session_scope

    ready()
    with guard(ValueError), session_scope() as session:
        key, secret = create_api_key(
            session,
            name=name,
            role=role,
            kb_names=split(kbs) or [],
            groups=split(groups) or [],
            created_by="cli",
        )
        audit.append(session, actor=caller(), action="apikey.create", details={"name": name, "role": role})
    typer.echo(f"created API key {key.name} (id {key.id}, {role})", err=True)
    typer.echo(secret)


def bootstrap_admin() -> str:
    """Create the first admin when there is none: ATTEST_ADMIN_PASSWORD, or a password printed once.
    Returns how to sign in as that admin, in words."""
    from attest.core import audit
    from attest.core.accounts import admin_exists, create_user
    from attest.core.db import session_scope
    from attest.core.settings import get_settings

    given = get_settings().admin_password.get_secret_value() or None
    with session_scope() as session:
        if admin_exists(session):
            where = "ATTEST_ADMIN_PASSWORD" if given else "the password printed when it was created"
            return f"admin ({where})"
        _user, generated = create_user(session, username="admin", role="admin", password=given)
        audit.append(
            session, actor=caller(), action="user.create", details={"username": "admin", "role": "admin"}
        )
    shown = (
        f"password {generated} (shown once; change it)"
        if generated
        else "password from ATTEST_ADMIN_PASSWORD"
    )
    typer.secho(f"Created the first admin: username admin, {shown}", fg=typer.colors.GREEN, err=True)
    return f"admin with the password {generated}" if generated else "admin (password: ATTEST_ADMIN_PASSWORD)"
