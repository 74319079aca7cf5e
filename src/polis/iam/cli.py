"""`polis users ...`: user administration from the command line."""

from __future__ import annotations

import asyncio

import typer

from polis.cli import CliError, database, friendly
from polis.iam.permissions import Role

app = typer.Typer(
    help="Users: create accounts; unlock, set a password, reset a second factor.",
    no_args_is_help=True,
)


async def _create(url: str, *, must_change_password: bool | None, **fields: str) -> str:
    from polis.db.session import Database, one_off_engine
    from polis.iam.service import user as user_service
    from polis.platform.errors import PolisError

    try:
        async with (
            one_off_engine(url) as engine,
            Database.from_engine(engine).transaction() as session,
        ):
            user = await user_service.create_user(
                session,
                username=fields["username"],
                password=fields["password"],
                role=fields["role"],
                email=fields["email"],
                first_name=fields["first_name"],
                last_name=fields["last_name"],
                must_change_password=must_change_password,
            )
            return str(user.id)
    except PolisError as exc:
        raise CliError(exc.message.rstrip(".")) from None


@app.command("create")
@friendly
def create(
    username: str = typer.Option(..., help="Login name"),
    password: str = typer.Option(
        ..., prompt=True, hide_input=True, confirmation_prompt=True, help="Prompted if omitted"
    ),
    role: str = typer.Option(..., help=f"One of {', '.join(r.value for r in Role)}"),
    email: str | None = typer.Option(None, help="Default: <username>@users.polis.invalid"),
    first_name: str | None = typer.Option(None, help="Default: the username"),
    last_name: str = typer.Option("-", help="Default: '-'"),
    password_change: bool | None = typer.Option(
        None,
        "--password-change/--no-password-change",
        help="Must change the password at first login (default: yes for staff roles, no for"
        " CUSTOMER and MEMBER)",
        show_default=False,
    ),
) -> None:
    """Create an ACTIVE user with a password (argon2id-hashed, checked against the policy).

    Staff accounts must change the password at their first login (POST /api/v1/auth/password)
    unless --no-password-change is given."""
    role = role.strip().upper()
    if role not in Role.__members__:
        raise CliError(f"unknown role {role!r} (one of: {', '.join(r.value for r in Role)})")
    with database() as url:
        user_id = asyncio.run(
            _create(
                url,
                username=username,
                password=password,
                role=role,
                email=email or f"{username}@users.polis.invalid",
                first_name=first_name or username,
                last_name=last_name,
                must_change_password=password_change,
            )
        )
    typer.echo(f"created user {username} ({role}) {user_id}")


async def _operate(url: str, username: str, action: str, password: str | None = None) -> str:
    """Run one administrator action on a user as the operator (no signed-in actor; the
    audit rows say OPERATOR_CLI): unlock, password or two-factor."""
    from sqlalchemy import text

    from polis.db.session import Database, one_off_engine
    from polis.iam.admin import user_admin
    from polis.iam.repository import UserRepository
    from polis.platform.errors import PolisError

    try:
        async with (
            one_off_engine(url) as engine,
            Database.from_engine(engine).transaction() as session,
        ):
            await session.execute(
                text("select set_config('app.business_context', 'OPERATOR_CLI', true)")
            )
            user = await UserRepository.from_session(session).get_by_username(username)
            if user is None:
                raise CliError(f"no user {username!r}")
            if action == "unlock":
                await user_admin.unlock(session, None, user.id)
            elif action == "password":
                await user_admin.set_password(
                    session, None, user.id, password or "", field="password"
                )
            else:
                await user_admin.reset_two_factor(session, None, user.id)
            return str(user.id)
    except PolisError as exc:
        raise CliError(exc.message.rstrip(".")) from None


@app.command("unlock")
@friendly
def unlock(username: str = typer.Argument(..., help="Login name")) -> None:
    """Lift a lockout from failed sign-ins (POST /iam/users/{id}/unlock for operators)."""
    with database() as url:
        user_id = asyncio.run(_operate(url, username, "unlock"))
    typer.echo(f"unlocked {username} {user_id}")


@app.command("set-password")
@friendly
def set_password(
    username: str = typer.Argument(..., help="Login name"),
    password: str = typer.Option(
        ..., prompt=True, hide_input=True, confirmation_prompt=True, help="Prompted if omitted"
    ),
) -> None:
    """Set a password for a user who lost theirs (the policy applies; they must change it at
    the next sign-in; every session of theirs ends)."""
    with database() as url:
        user_id = asyncio.run(_operate(url, username, "password", password))
    typer.echo(f"password set for {username} {user_id}; they must change it at sign-in")


@app.command("reset-2fa")
@friendly
def reset_two_factor(username: str = typer.Argument(..., help="Login name")) -> None:
    """Turn off a user's second factor (a lost phone and recovery codes; the last
    administrator locked out): secret and recovery codes deleted, sessions ended. A role
    that requires one sets up a new authenticator at the next sign-in."""
    with database() as url:
        user_id = asyncio.run(_operate(url, username, "two-factor"))
    typer.echo(f"second factor reset for {username} {user_id}; they enrol again at sign-in")
