"""`polis motor ...`: daily jobs of the motor line (seed 001; decision 0039)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

import typer

app = typer.Typer(help="Motor insurance (seed 001): policy upkeep.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Motor insurance (seed 001): policy upkeep."""


async def _run(url: str, job: Callable[..., Awaitable[list[str]]], day: date) -> list[str]:
    from sqlalchemy import pool
    from sqlalchemy.ext.asyncio import create_async_engine

    from polis.db.session import Database
    from polis.db.urls import with_driver

    engine = create_async_engine(with_driver(url, "asyncpg"), poolclass=pool.NullPool)
    try:
        async with Database.from_engine(engine).transaction() as session:
            return await job(session, day)
    finally:
        await engine.dispose()


def _day(on: str | None) -> date:
    from polis.motor.quotes import today_bangkok

    try:
        return date.fromisoformat(on) if on is not None else today_bangkok()
    except ValueError:
        raise typer.BadParameter("expected YYYY-MM-DD", param_hint="--date") from None


def _command(job_name: str, verb: str, on: str | None) -> None:
    import asyncio

    from polis.cli import database, friendly
    from polis.motor import policies

    day = _day(on)
    job = getattr(policies, job_name)

    def run() -> None:
        with database() as url:
            numbers = asyncio.run(_run(url, job, day))
        typer.echo(f"{verb} {len(numbers)} policy(ies) on {day.isoformat()}")
        for number in numbers:
            typer.echo(number)

    friendly(run)()


_DATE = typer.Option(None, "--date", help="Business date (YYYY-MM-DD); default today in Bangkok")


@app.command("suspend-overdue")
def suspend_overdue_command(on: str | None = _DATE) -> None:
    """Suspend ACTIVE policies with an instalment unpaid past POLICY_GRACE_PERIOD_DAYS
    (safe to run again: a second run the same day changes nothing)."""
    _command("suspend_overdue", "suspended", on)


@app.command("expire-policies")
def expire_policies_command(on: str | None = _DATE) -> None:
    """Expire ACTIVE and SUSPENDED policies whose end date has come (safe to run again)."""
    _command("expire_policies", "expired", on)
