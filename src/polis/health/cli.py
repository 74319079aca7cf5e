"""`polis health ...`: commands of the health line (seed 000)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Health insurance (seed 000): batch adjudication, upkeep.", no_args_is_help=True
)


@app.callback()
def _group() -> None:
    """Health insurance (seed 000): batch adjudication, upkeep."""
