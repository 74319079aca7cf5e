"""`polis worker` and `polis jobs ...` (decision 0056): run the job worker, see and retry jobs."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

import typer

jobs_app = typer.Typer(
    help="Background jobs: the queue, failed jobs, retries, schedules.", no_args_is_help=True
)

_STATUSES = ("todo", "doing", "succeeded", "failed", "cancelled", "aborted")


def _rows(url: str, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, connect_timeout=10) as conn:
        return conn.execute(sql, params or {}).fetchall()


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S%z") if value is not None else "-"


def _args(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":")) if value else "{}"


def worker_command(
    concurrency: int | None = typer.Option(
        None, min=1, help="Jobs run at once (default WORKER_CONCURRENCY)"
    ),
    queue: list[str] | None = typer.Option(
        None, "--queue", "-q", help="Queue to work (repeatable; default WORKER_QUEUES or all)"
    ),
    once: bool = typer.Option(
        False, "--once", help="Run the jobs due now, then exit (no schedules); for cron"
    ),
) -> None:
    """Run the job worker: periodic schedules and queued jobs, until SIGTERM or Ctrl-C (the
    running jobs finish first)."""
    import asyncio
    import signal

    from polis.cli import _exit_cleanly, database
    from polis.config import get_settings
    from polis.ops import jobs
    from polis.platform.logging import configure_logging

    settings = get_settings()
    configure_logging(settings)
    # Until the worker installs its own handlers, SIGTERM ends us through `finally` blocks
    # (the embedded cluster started here is stopped).
    signal.signal(signal.SIGTERM, _exit_cleanly)
    with database() as url:
        _rows(url, "SELECT 'jobs.procrastinate_jobs'::regclass")  # the schema is there
        queues = list(queue or []) or jobs.queues_of(settings)
        typer.echo(
            f"polis worker: started (concurrency {concurrency or settings.worker_concurrency},"
            f" queues {', '.join(queues) if queues else 'all'}"
            f"{', once' if once else ''})",
            err=True,
        )
        try:
            asyncio.run(
                jobs.run_worker(
                    url,
                    settings=settings,
                    wait=not once,
                    periodic=not once,
                    concurrency=concurrency,
                    queues=queues,
                )
            )
        except SystemExit:
            # SIGTERM between procrastinate registering the worker and installing its own
            # signal handlers ends us through _exit_cleanly: no job had started, the worker
            # row is removed as the loop unwinds; it is a stop all the same.
            typer.echo("polis worker: stopped", err=True)
            raise
    typer.echo("polis worker: stopped", err=True)


@jobs_app.command("failed")
def failed_command(
    limit: int = typer.Option(50, min=1, help="Most recent failed jobs shown"),
    trace: bool = typer.Option(False, "--traceback", help="Print each job's last traceback"),
) -> None:
    """Failed jobs: id, task, arguments, attempts, last error and when it failed."""
    from polis.cli import database

    with database() as url:
        rows = _rows(
            url,
            "SELECT j.id, j.task_name, j.args, j.attempts, e.error_type, e.error, e.traceback,"
            " COALESCE(e.failed_at, (SELECT max(ev.at) FROM jobs.procrastinate_events ev"
            "   WHERE ev.job_id = j.id AND ev.type = 'failed'))"
            " FROM jobs.procrastinate_jobs j"
            " LEFT JOIN LATERAL (SELECT * FROM jobs.job_errors x WHERE x.job_id = j.id"
            "   ORDER BY x.attempt DESC LIMIT 1) e ON true"
            " WHERE j.status = 'failed' ORDER BY j.id DESC LIMIT %(limit)s",
            {"limit": limit},
        )
    if not rows:
        typer.echo("no failed jobs")
        return
    typer.echo(f"{len(rows)} failed job(s)")
    for job_id, task, args, attempts, etype, error, tb, at in rows:
        typer.echo(
            f"{job_id}  {task}  attempts={attempts}  failed_at={_when(at)}  args={_args(args)}"
        )
        typer.echo(f"    error: {etype}: {error}" if etype else "    error: (not recorded)")
        if trace and tb:
            typer.echo("    " + tb.rstrip().replace("\n", "\n    "))


@jobs_app.command("retry")
def retry_command(job_id: int = typer.Argument(..., help="Id of a failed job")) -> None:
    """Put a failed job back in the queue, to run now (one more attempt)."""
    import asyncio
    from datetime import UTC, datetime

    from polis.cli import CliError, database
    from polis.ops import jobs

    with database() as url:
        found = _rows(
            url,
            "SELECT task_name, status::text FROM jobs.procrastinate_jobs WHERE id = %(id)s",
            {"id": job_id},
        )
        if not found:
            raise CliError(f"no job {job_id}")
        task, status = found[0]
        if status != "failed":
            raise CliError(f"job {job_id} ({task}) is {status}, not failed")

        async def retry() -> None:
            async with jobs.opened(url) as jobs_app:
                await jobs_app.job_manager.retry_job_by_id_async(job_id, datetime.now(UTC))

        asyncio.run(retry())
    typer.echo(f"job {job_id} ({task}) queued again")


@jobs_app.command("list")
def list_command(
    status: str | None = typer.Option(None, help="todo, doing, succeeded, failed, ..."),
    task: str | None = typer.Option(None, help="Task name, e.g. partitions"),
    limit: int = typer.Option(30, min=1, help="Most recent jobs shown"),
) -> None:
    """Recent jobs, newest first: id, status, task, queue, attempts, scheduled time."""
    from polis.cli import CliError, database

    if status is not None and status not in _STATUSES:
        raise CliError(f"unknown status {status!r}: one of {', '.join(_STATUSES)}")
    with database() as url:
        rows = _rows(
            url,
            "SELECT id, status::text, task_name, queue_name, attempts, scheduled_at, args"
            " FROM jobs.procrastinate_jobs"
            " WHERE (%(status)s::text IS NULL OR status::text = %(status)s)"
            "   AND (%(task)s::text IS NULL OR task_name = %(task)s)"
            " ORDER BY id DESC LIMIT %(limit)s",
            {"status": status, "task": task, "limit": limit},
        )
    if not rows:
        typer.echo("no jobs")
        return
    for job_id, st, name, queue, attempts, scheduled, args in rows:
        typer.echo(
            f"{job_id}  {st:<9}  {name}  queue={queue}  attempts={attempts}"
            f"  scheduled={_when(scheduled)}  args={_args(args)}"
        )


@jobs_app.command("status")
def status_command() -> None:
    """Jobs per queue and status, and the live workers (by heartbeat)."""
    from polis.cli import database

    with database() as url:
        counts = _rows(
            url,
            "SELECT queue_name, status::text, count(*) FROM jobs.procrastinate_jobs"
            " GROUP BY 1, 2 ORDER BY 1, 2",
        )
        workers = _rows(
            url,
            "SELECT id, last_heartbeat, now() - last_heartbeat < interval '60 seconds'"
            " FROM jobs.procrastinate_workers ORDER BY id",
        )
    if not counts:
        typer.echo("no jobs")
    for queue, st, n in counts:
        typer.echo(f"{queue:<12} {st:<9} {n}")
    typer.echo(f"{sum(1 for w in workers if w[2])} live worker(s)")
    for wid, beat, live in workers:
        typer.echo(f"  worker {wid}: last heartbeat {_when(beat)}{'' if live else ' (stalled)'}")


@jobs_app.command("defer")
def defer_command(
    task: str = typer.Argument(..., help="Task name, as `polis jobs schedule`"),
) -> None:
    """Queue a task to run now (the next worker takes it); refused when one is already queued."""
    import asyncio

    from procrastinate.exceptions import AlreadyEnqueued

    from polis.cli import CliError, database
    from polis.ops import jobs

    if task not in jobs.app.tasks or task.startswith(("builtin:", "procrastinate.")):
        names = ", ".join(name for name, *_ in jobs.schedule())
        raise CliError(f"unknown task {task!r}: one of {names}")

    with database() as url:

        async def defer() -> int:
            async with jobs.opened(url) as jobs_app:
                return await jobs_app.configure_task(task).defer_async()

        try:
            job_id = asyncio.run(defer())
        except AlreadyEnqueued:
            raise CliError(f"a {task} job is already queued") from None
    typer.echo(f"job {job_id} ({task}) queued")


@jobs_app.command("schedule")
def schedule_command() -> None:
    """The periodic tasks: name, queue, cron (UTC; Bangkok and Jakarta are UTC+7)."""
    from polis.ops import jobs

    for name, queue, cron, local, doc in jobs.schedule():
        typer.echo(f"{name:<29} {queue:<12} {cron:<13} {local:<19} {doc}")


def _one_line_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """procrastinate's errors, and a database without the jobs schema, as CliError."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import psycopg
        from procrastinate.exceptions import ProcrastinateException

        from polis.cli import CliError

        try:
            return fn(*args, **kwargs)
        except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName) as exc:
            if "procrastinate" in str(exc) or "jobs" in str(exc):
                raise CliError(
                    "the database has no jobs schema: run `polis db upgrade` first"
                ) from None
            raise
        except ProcrastinateException as exc:
            cause = exc.__cause__ or exc
            if isinstance(cause, psycopg.errors.UndefinedTable):
                raise CliError(
                    "the database has no jobs schema: run `polis db upgrade` first"
                ) from None
            raise CliError(f"{exc.__class__.__name__}: {cause}".splitlines()[0]) from None

    return wrapper


def register(app: typer.Typer) -> None:
    """Add `polis worker` and the `polis jobs` group to the `polis` command."""
    from polis.cli import friendly

    app.command("worker")(friendly(_one_line_errors(worker_command)))
    for command in jobs_app.registered_commands:
        if command.callback is not None:
            command.callback = friendly(_one_line_errors(command.callback))
    app.add_typer(jobs_app, name="jobs")
