"""`polis reference ...`: reference data commands."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Reference data: Thai geography, system configurations.", no_args_is_help=True
)


@app.callback()
def _group() -> None:
    """Reference data: Thai geography, system configurations."""


@app.command("load")
def load() -> None:
    """Re-load the shipped Thai geography (upsert by code) and add missing configuration keys."""
    from polis.cli import database, friendly
    from polis.reference.service import load_reference

    @friendly
    def run() -> None:
        with database() as url:
            counts = load_reference(url)
        typer.echo(
            f"{'table':<26}{'rows':>6}{'inserted':>10}{'updated':>9}{'unchanged':>11}"
            f"{'deactivated':>13}"
        )
        for c in counts:
            typer.echo(
                f"{'ref.' + c.table:<26}{c.rows:>6}{c.inserted:>10}{c.updated:>9}"
                f"{c.unchanged:>11}{c.deactivated:>13}"
            )

    run()
