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
    from polis.db.session import Database, one_off_engine

    async with one_off_engine(url) as engine, Database.from_engine(engine).transaction() as s:
        return await job(s, day)


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


# --- renewals (decision 0047) ------------------------------------------------------------


def _renewal_command(job_name: str, verb: str, on: str | None) -> None:
    import asyncio

    from polis.cli import database, friendly
    from polis.motor import renewals

    day = _day(on)
    job = getattr(renewals, job_name)

    def run() -> None:
        with database() as url:
            lines = asyncio.run(_run(url, job, day))
        typer.echo(f"{verb} {len(lines)} policy(ies) on {day.isoformat()}")
        for line in lines:
            typer.echo(line)

    friendly(run)()


@app.command("auto-renew")
def auto_renew_command(on: str | None = _DATE) -> None:
    """Renew auto_renewal policies ending within 45 days that are not yet renewed (DRAFT
    renewals with their schedule; safe to run again: a renewed policy is skipped)."""
    _renewal_command("auto_renew", "renewed", on)


@app.command("renewal-notices")
def renewal_notices_command(on: str | None = _DATE) -> None:
    """Record the renewal notice (30, 15 or 7 days before expiry) due for each policy whose
    renewal is not yet paid (safe to run again: a stage is recorded once)."""
    _renewal_command("renewal_notices", "notified", on)


@app.command("activate-renewals")
def activate_renewals_command(on: str | None = _DATE) -> None:
    """Activate paid renewals whose start date has come, expiring the policies they renew
    (expire-policies does this too; safe to run again)."""
    _renewal_command("activate_due_renewals", "activated", on)


@app.command("expire-payments")
def expire_payments_command() -> None:
    """Mark gateway payment attempts still PENDING after PAYMENT_TIMEOUT_MINUTES as TIMEOUT
    (the scheduled payment stays PENDING, still due; safe to run again)."""
    import asyncio
    from datetime import UTC, datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from polis.cli import database, friendly
    from polis.motor.gateway import expire_pending_payments

    async def job(session: AsyncSession, _day: date) -> list[str]:
        rows = await expire_pending_payments(session, datetime.now(UTC))
        return [f"{row.gateway_reference} (payment {row.payment_id})" for row in rows]

    def run() -> None:
        with database() as url:
            lines = asyncio.run(_run(url, job, date.today()))
        typer.echo(f"expired {len(lines)} gateway attempt(s)")
        for line in lines:
            typer.echo(line)

    friendly(run)()


@app.command("ocr-pending")
def ocr_pending_command(
    limit: int = typer.Option(20, "--limit", min=1, max=500, help="Documents at most"),
) -> None:
    """Read the text of PENDING claim documents (OCR in Thai and English, or the PDF's text
    layer) and mark them PROCESSED; rows another process holds are skipped (FOR UPDATE SKIP
    LOCKED), so it is safe to run any time, also beside the web app (decision 0052)."""
    import asyncio

    from sqlalchemy.ext.asyncio import AsyncSession

    from polis.cli import database, friendly
    from polis.motor.claim_documents import ocr_pending

    async def job(session: AsyncSession, _day: date) -> list[str]:
        return [str(document_id) for document_id in await ocr_pending(session, limit)]

    def run() -> None:
        with database() as url:
            lines = asyncio.run(_run(url, job, date.today()))
        typer.echo(f"processed {len(lines)} claim document(s)")
        for line in lines:
            typer.echo(line)

    friendly(run)()
