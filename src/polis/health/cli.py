"""`polis health ...`: commands of the health line (seed 000)."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    help="Alone: the database health check. With a command: the health insurance line.",
    no_args_is_help=False,
)


@app.callback(invoke_without_command=True)
def _group(
    ctx: typer.Context,
    replica: bool = typer.Option(False, "--replica", help="Check READ_DATABASE_URL instead"),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
) -> None:
    """Alone, `polis health` checks the database (check_database_health; exit 0 OK,
    1 WARNING, 2 CRITICAL; decision 0057). Its commands belong to the health insurance line
    (seed 000): batch adjudication and upkeep."""
    if ctx.invoked_subcommand is None:
        from polis.ops.health_cli import run_health_check

        run_health_check(replica, as_json)


# --- pre-authorisations (decision 0024) ---------------------------------------------------


async def _expire_authorizations(url: str, day: object) -> int:
    from datetime import date

    from polis.db.session import Database, one_off_engine
    from polis.health.authorizations import expire_authorizations

    assert isinstance(day, date)
    async with one_off_engine(url) as engine, Database.from_engine(engine).transaction() as s:
        return await expire_authorizations(s, day)


@app.command("expire-authorizations")
def expire_authorizations_command(
    on: str | None = typer.Option(
        None, "--date", help="Business date (YYYY-MM-DD); default today in Asia/Jakarta"
    ),
) -> None:
    """Mark pending and approved pre-authorisations whose valid_to is before the date as
    expired (safe to run again: a second run the same day changes nothing)."""
    import asyncio
    from datetime import date

    from polis.cli import database, friendly
    from polis.health.authorizations import today_jakarta

    try:
        day = date.fromisoformat(on) if on is not None else today_jakarta()
    except ValueError:
        raise typer.BadParameter("expected YYYY-MM-DD", param_hint="--date") from None

    def run() -> None:
        with database() as url:
            count = asyncio.run(_expire_authorizations(url, day))
        typer.echo(f"expired {count} authorization(s) with valid_to before {day.isoformat()}")

    friendly(run)()


# --- batch adjudication (decision 0029) ---------------------------------------------------


@app.command("adjudicate")
def adjudicate_command(
    file: Path = typer.Option(
        ..., "--file", exists=True, dir_okay=False, readable=True, help="Claims, one JSON a line"
    ),
    out: Path | None = typer.Option(None, "--out", help="Results (JSON lines); default stdout"),
    batch_size: int = typer.Option(100, "--batch-size", min=1, help="Claims per transaction"),
    workers: int = typer.Option(4, "--workers", min=1, max=64, help="Connections in parallel"),
    created_by: str = typer.Option("polis-batch", "--created-by", help="claims.created_by"),
) -> None:
    """Adjudicate claims in the JSON shape of POST /api/v1/health/claims, one per line: one
    result line each (claim_number, status, totals, or the line's problem); a bad line does
    not stop the others. A summary goes to stderr."""
    import asyncio
    import contextlib
    import sys
    from typing import TextIO

    from polis.cli import database, friendly
    from polis.health.batch import adjudicate_file

    def run() -> None:
        sink: contextlib.AbstractContextManager[TextIO] = (
            contextlib.nullcontext(sys.stdout) if out is None else out.open("w", encoding="utf-8")
        )
        with database() as url, sink as results:
            summary = asyncio.run(
                adjudicate_file(
                    url,
                    file,
                    results,
                    batch_size=batch_size,
                    workers=workers,
                    created_by=created_by,
                )
            )
        typer.echo(summary.text(), err=True)

    friendly(run)()
