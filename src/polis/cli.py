"""The `polis` command: serve, demo, db, users, reference."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any, TypeVar

import typer

from polis.config import get_settings

app = typer.Typer(help="Polis insurance core.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database: migrations, the embedded server, its URL.")
app.add_typer(db_app, name="db")

F = TypeVar("F", bound=Callable[..., Any])


class CliError(Exception):
    """An expected failure: printed as one line, exit code 1."""


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    first = text.splitlines()[0]
    # psycopg and SQLAlchemy put the useful sentence on the first line, after a prefix.
    return first.replace("(psycopg.OperationalError) ", "")


def friendly(fn: F) -> F:
    """Turn expected errors into `polis: error: ...` and exit code 1, never a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import psycopg
        import sqlalchemy.exc
        from alembic.util import CommandError

        from polis.db.embedded import EmbeddedError

        try:
            return fn(*args, **kwargs)
        except (
            CliError,
            EmbeddedError,
            CommandError,
            psycopg.Error,
            sqlalchemy.exc.SQLAlchemyError,
            OSError,
            ValueError,
        ) as exc:
            typer.echo(f"polis: error: {_one_line(exc)}", err=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def database() -> Iterator[str]:
    """The primary's libpq URL; an embedded cluster started here is stopped afterwards."""
    from polis.db.urls import embedded, primary_url

    settings = get_settings()
    if settings.database_url:
        yield primary_url(settings)
        return
    pg = embedded(settings)
    started = pg.start()
    try:
        yield pg.url()
    finally:
        if started:
            pg.stop()


@db_app.command("upgrade")
@friendly
def db_upgrade(revision: str = typer.Argument("head", help="Target revision")) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from polis.db import migrate

    with database() as url:
        migrate.upgrade(url, revision)
        typer.echo(f"database at {migrate.current(url)}")


@db_app.command("downgrade")
@friendly
def db_downgrade(revision: str = typer.Argument(..., help="Target revision, or 'base'")) -> None:
    """Revert migrations down to REVISION ('base' removes everything)."""
    from polis.db import migrate

    with database() as url:
        migrate.downgrade(url, revision)
        typer.echo(f"database at {migrate.current(url) or 'base'}")


@db_app.command("current")
@friendly
def db_current() -> None:
    """Print the revision the database is at."""
    from polis.db import migrate

    with database() as url:
        typer.echo(migrate.current(url) or "base")


@db_app.command("url")
@friendly
def db_url() -> None:
    """Print a libpq URL for psql; starts the embedded server and leaves it running."""
    from polis.db.urls import primary_url

    typer.echo(primary_url(get_settings(), start=True))


@db_app.command("start")
@friendly
def db_start() -> None:
    """Start the embedded PostgreSQL (no-op with DATABASE_URL)."""
    from polis.db.urls import embedded

    settings = get_settings()
    if settings.database_url:
        raise CliError("DATABASE_URL is set: Polis does not manage that server")
    pg = embedded(settings)
    started = pg.start()
    typer.echo(("started" if started else "already running") + f": {pg.data_dir}")


@db_app.command("stop")
@friendly
def db_stop() -> None:
    """Stop the embedded PostgreSQL."""
    from polis.db.urls import embedded

    pg = embedded(get_settings())
    typer.echo("stopped" if pg.stop() else "not running")


@app.command("serve")
@friendly
def serve(
    host: str = typer.Option(None, help="Listen address (default 127.0.0.1)"),
    port: int = typer.Option(None, help="Port (default 8000)"),
    migrate_first: bool = typer.Option(True, "--migrate/--no-migrate"),
    workers: int = typer.Option(
        1, min=1, help="uvicorn worker processes (e.g. one per CPU core; decision 0038)"
    ),
) -> None:
    """Run the API server (migrating first)."""
    from polis.db import migrate

    settings = get_settings()
    with database() as url:
        if migrate_first:
            migrate.upgrade(url)
        run_server(url, host or settings.host, port or settings.port, workers=workers)


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def run_server(url: str, host: str, port: int, *, workers: int = 1) -> None:
    """Serve the app with uvicorn on host:port against the database at url; `workers` > 1
    runs that many processes (uvicorn's supervisor; each has its own connection pool)."""
    import os
    import signal
    import socket

    import uvicorn

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise CliError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it; with the default handler
    # that kills the process before our callers' `finally` stops the embedded cluster.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.run(
        "polis.app:create_app",
        factory=True,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,  # polis.platform.logging writes one structured line per request
        timeout_graceful_shutdown=get_settings().shutdown_grace_seconds,
        workers=workers,
    )


def _register_optional() -> None:
    """Attach the command groups of other packages (each owns its commands)."""
    import importlib

    for module, attr, name in (
        ("polis.iam.cli", "app", "users"),
        ("polis.reference.cli", "app", "reference"),
        ("polis.health.cli", "app", "health"),
        ("polis.motor.cli", "app", "motor"),
        ("polis.integrations.cli", "app", "sandbox"),
    ):
        try:
            sub = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            continue
        app.add_typer(sub, name=name)
    # Top-level commands of other packages: each module's `register(app)` adds its own
    # (`polis worker` and `polis jobs ...`, `polis backup` and `polis restore`, `polis health`'s
    # database check).
    for module in (
        "polis.ops.jobs_cli",
        "polis.ops.backup_cli",
        "polis.ops.health_cli",
        "polis.iam.matrix_cli",
        "polis.platform.keys_cli",
    ):
        try:
            register = importlib.import_module(module).register
        except (ImportError, AttributeError):
            continue
        register(app)
    try:
        demo_mod = importlib.import_module("polis.demo")
    except ImportError:
        return
    app.command("demo")(friendly(demo_mod.demo))


_register_optional()


def main() -> None:
    """Entry point of the `polis` console script."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
