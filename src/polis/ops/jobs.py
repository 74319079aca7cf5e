"""Background jobs on procrastinate (issue 7; decision 0056): the app, its schema, the tasks.

Procrastinate keeps its queue in PostgreSQL (no other server): its tables and functions live in
the `jobs` schema, installed by migration 0018 from the package's own `schema.sql`; its
connections set `search_path` to `jobs`. Each task calls an existing service function in one
transaction (the same ones the `polis motor ...` and `polis health ...` commands call), so a
task is as idempotent as that function: a second run finds nothing left to do. Every task has
a `lock` (two runs never overlap) and a `queueing_lock` (at most one waits in the queue), and is
retried with exponential backoff (JOB_RETRIES, JOB_RETRY_BACKOFF_SECONDS); each failed run is
kept in `jobs.job_errors`, which `polis jobs failed` shows.

Schedules are cron expressions in UTC, written from local times: Thailand (Asia/Bangkok) and
western Indonesia (Asia/Jakarta) are UTC+7 without daylight saving, so a daily job at 00:05
Bangkok is `5 17 * * *`. A task's business date is taken from the time it was scheduled for.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from importlib.metadata import version
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import procrastinate
from procrastinate.app import WorkerOptions
from procrastinate.job_context import JobContext
from procrastinate.jobs import Job
from procrastinate.retry import BaseRetryStrategy, RetryDecision
from sqlalchemy import delete, pool, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from polis.config import Settings, get_settings
from polis.db.urls import libpq, with_driver

log = logging.getLogger("polis.jobs")

SCHEMA = "jobs"
BANGKOK = ZoneInfo("Asia/Bangkok")
JAKARTA = ZoneInfo("Asia/Jakarta")

MAINTENANCE = "maintenance"  # database upkeep: partitions, sessions, VACUUM, the queue itself
BUSINESS = "business"  # business-day runs: policy expiry, renewals, payment timeouts
QUEUES = (MAINTENANCE, BUSINESS)

# The tables VACUUM (ANALYZE) visits nightly after perform_maintenance() (decision 0006).
HOT_TABLES = (
    "motor.customers",
    "motor.policies",
    "motor.claims",
    "motor.payments",
    "claims.claim",
    "iam.user_sessions",
)
MONTHLY_PARTITIONED = ("audit.audit_log", "motor.payments")
YEARLY_PARTITIONED = ("claims.claim",)


# --- schema ---------------------------------------------------------------------------------

JOB_ERRORS_DDL = f"""
CREATE TABLE {SCHEMA}.job_errors (
    job_id BIGINT NOT NULL REFERENCES {SCHEMA}.procrastinate_jobs (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    task_name VARCHAR(128) NOT NULL,
    error_type TEXT NOT NULL,
    error TEXT NOT NULL,
    traceback TEXT,
    failed_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
    CONSTRAINT job_errors_pkey PRIMARY KEY (job_id, attempt)
);
COMMENT ON TABLE {SCHEMA}.job_errors IS
    'One row per failed run of a job (procrastinate keeps no error text): polis jobs failed';
"""

_VERSION_COMMENT = re.compile(r"^procrastinate (\d+(?:\.\d+)*)")
_MIGRATION_FILE = re.compile(r"^(\d+)\.(\d+)\.(\d+)_(\d+)_.*\.sql$")


def procrastinate_version() -> str:
    """The installed procrastinate's version (constraints.txt pins it)."""
    return version("procrastinate")


def _vtuple(text_: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text_.split("."))


def schema_sql() -> str:
    """procrastinate's schema.sql, as shipped in the installed package."""
    return resources.files("procrastinate.sql").joinpath("schema.sql").read_text("utf-8")


def pending_migrations(applied: str) -> list[tuple[str, str]]:
    """procrastinate's migration files newer than version `applied`: (file name, SQL), in
    order. Empty while the installed package is the one the schema was made from."""
    folder = resources.files("procrastinate.sql").joinpath("migrations")
    out = []
    for entry in folder.iterdir():
        m = _MIGRATION_FILE.match(entry.name)
        if m and tuple(int(g) for g in m.groups()[:3]) > _vtuple(applied):
            out.append((entry.name, entry.read_text("utf-8")))
    return sorted(out)


def _execute_in_schema(cursor: Any, sql: str) -> None:
    saved = cursor.execute("SELECT current_setting('search_path')").fetchone()[0]
    cursor.execute("SELECT set_config('search_path', %s, true)", (SCHEMA,))
    cursor.execute(sql)  # no parameters: psycopg sends the file as one simple query
    cursor.execute("SELECT set_config('search_path', %s, true)", (saved,))


# procrastinate's functions name its tables unqualified: pinned to `jobs`, its triggers and
# functions also work from sessions with another search_path (psql, metrics, restores).
_PIN_SEARCH_PATH = f"""
DO $$
DECLARE
    routine regprocedure;
BEGIN
    FOR routine IN SELECT p.oid::regprocedure FROM pg_proc p
                    WHERE p.pronamespace = '{SCHEMA}'::regnamespace LOOP
        EXECUTE format('ALTER ROUTINE %s SET search_path = {SCHEMA}, pg_catalog', routine);
    END LOOP;
END;
$$;
"""


def _record_version(cursor: Any, installed: str) -> None:
    from psycopg import sql

    cursor.execute(
        sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
            sql.Identifier(SCHEMA),
            sql.Literal(f"procrastinate {installed}: background jobs (polis.ops.jobs)"),
        )
    )


def install_schema(bind: Any) -> None:
    """Create the `jobs` schema with procrastinate's schema.sql and jobs.job_errors, inside
    the caller's transaction (migration 0018; `bind` is its SQLAlchemy connection)."""
    dbapi = bind.connection.dbapi_connection
    with dbapi.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {SCHEMA}")
        _execute_in_schema(cursor, schema_sql())
        cursor.execute(_PIN_SEARCH_PATH)
        cursor.execute(JOB_ERRORS_DDL)
        _record_version(cursor, procrastinate_version())


def schema_version(bind: Any) -> str | None:
    """The procrastinate version the `jobs` schema was made or last upgraded from."""
    dbapi = bind.connection.dbapi_connection
    with dbapi.cursor() as cursor:
        row = cursor.execute(
            "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s",
            (SCHEMA,),
        ).fetchone()
    m = _VERSION_COMMENT.match(row[0] or "") if row else None
    return m.group(1) if m else None


def upgrade_schema(bind: Any) -> list[str]:
    """Apply procrastinate's migration files newer than the recorded version (for the Alembic
    revision that follows a procrastinate upgrade); the file names applied."""
    applied = schema_version(bind)
    if applied is None:
        raise RuntimeError(f"the {SCHEMA} schema has no procrastinate version recorded")
    files = pending_migrations(applied)
    dbapi = bind.connection.dbapi_connection
    with dbapi.cursor() as cursor:
        for _name, sql_text in files:
            _execute_in_schema(cursor, sql_text)
        cursor.execute(_PIN_SEARCH_PATH)
        _record_version(cursor, procrastinate_version())
    return [name for name, _ in files]


# --- retries and failures -------------------------------------------------------------------


class SettingsRetry(BaseRetryStrategy):
    """JOB_RETRIES retries, waiting JOB_RETRY_BACKOFF_SECONDS * 2**n (capped at
    JOB_RETRY_MAX_WAIT_SECONDS), read from the settings when a job fails."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        settings = get_settings()
        if job.attempts >= settings.job_retries:
            return None
        wait = settings.job_retry_backoff_seconds * 2**job.attempts
        return RetryDecision(retry_in={"seconds": min(wait, settings.job_retry_max_wait_seconds)})


RETRY = SettingsRetry()

_RECORD_ERROR = f"""
INSERT INTO {SCHEMA}.job_errors (job_id, attempt, task_name, error_type, error, traceback)
VALUES (%(job_id)s, %(attempt)s, %(task_name)s, %(error_type)s, %(error)s, %(traceback)s)
ON CONFLICT (job_id, attempt) DO UPDATE
SET error_type = EXCLUDED.error_type, error = EXCLUDED.error,
    traceback = EXCLUDED.traceback, failed_at = now()
"""


async def record_failures(call_next: Any, context: JobContext, worker: Any) -> Any:
    """Worker middleware: keep each failed run's error in jobs.job_errors, then re-raise."""
    try:
        return await call_next()
    except Exception as exc:
        try:
            await context.app.connector.execute_query_async(
                _RECORD_ERROR,
                job_id=context.job.id,
                attempt=context.job.attempts + 1,
                task_name=context.job.task_name,
                error_type=type(exc).__name__,
                error=str(exc)[:2000] or type(exc).__name__,
                traceback="".join(traceback.format_exception(exc))[-8000:],
            )
        except Exception:  # recording must never hide the job's own error
            log.exception("could not record the failure of job %s", context.job.id)
        raise


# --- the app --------------------------------------------------------------------------------

app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(),  # replaced by connector(url) when opened
    worker_defaults={"worker_middleware": [record_failures]},
)


def connector(url: str, settings: Settings | None = None) -> procrastinate.PsycopgConnector:
    """A psycopg pool on the primary, its sessions working in the `jobs` schema."""
    settings = settings or get_settings()
    return procrastinate.PsycopgConnector(
        conninfo=libpq(url),
        min_size=1,
        max_size=settings.worker_concurrency + 3,  # jobs, LISTEN, heartbeat, deferrer
        kwargs={"options": f"-c search_path={SCHEMA}", "application_name": "polis-worker"},
        name="polis-jobs",
    )


@asynccontextmanager
async def opened(url: str, settings: Settings | None = None) -> AsyncIterator[procrastinate.App]:
    """The app connected to the database at `url` for the duration of the block."""
    with app.replace_connector(connector(url, settings)):
        async with app.open_async():
            yield app


def queues_of(settings: Settings) -> list[str] | None:
    """WORKER_QUEUES as a list; None (every queue) when empty."""
    names = [q.strip() for q in settings.worker_queues.split(",") if q.strip()]
    return names or None


_DUE = f"""
SELECT count(*) AS n FROM {SCHEMA}.procrastinate_jobs
WHERE status = 'todo' AND (scheduled_at IS NULL OR scheduled_at <= now())
  AND (%(queues)s::text[] IS NULL OR queue_name = ANY(%(queues)s::text[]))
"""


async def _due(jobs_app: procrastinate.App, queues: list[str] | None) -> int:
    row = await jobs_app.connector.execute_query_one_async(_DUE, queues=queues)
    return int(row["n"])


async def _last_event(jobs_app: procrastinate.App) -> int:
    row = await jobs_app.connector.execute_query_one_async(
        f"SELECT COALESCE(max(id), 0) AS n FROM {SCHEMA}.procrastinate_events"
    )
    return int(row["n"])


async def run_worker(
    url: str,
    *,
    settings: Settings | None = None,
    wait: bool = True,
    periodic: bool = True,
    concurrency: int | None = None,
    queues: list[str] | None = None,
    install_signal_handlers: bool = True,
) -> None:
    """Run a worker on the database at `url`. With wait=False it returns once the queue has no
    job due; periodic=False leaves the schedules alone (nothing new is deferred). SIGTERM and
    SIGINT stop it gracefully: no new job is taken and running ones finish."""
    settings = settings or get_settings()
    async with opened(url, settings) as jobs_app:
        registry = jobs_app.periodic_registry
        if not periodic:
            from procrastinate.periodic import PeriodicRegistry

            jobs_app.periodic_registry = PeriodicRegistry()
        try:
            options: WorkerOptions = {
                "name": "polis-worker",
                "concurrency": concurrency or settings.worker_concurrency,
                "wait": wait,
                "listen_notify": wait,
                "additional_context": {"database_url": url},
                "install_signal_handlers": install_signal_handlers,
            }
            chosen = queues or queues_of(settings)
            if chosen:
                options["queues"] = chosen
            if settings.worker_shutdown_timeout_seconds is not None:
                options["shutdown_graceful_timeout"] = settings.worker_shutdown_timeout_seconds
            while True:
                mark = await _last_event(jobs_app)
                await jobs_app.run_worker_async(**options)
                # A pass ends when no job can be fetched, also when the next one waits for a
                # lock, or a retry, of a job of that pass: go on while passes do something.
                if wait or not await _due(jobs_app, chosen) or await _last_event(jobs_app) == mark:
                    break
        finally:
            jobs_app.periodic_registry = registry


# --- how tasks reach the database -----------------------------------------------------------


def _engine(url: str, settings: Settings) -> AsyncEngine:
    return create_async_engine(
        with_driver(url, "asyncpg"),
        poolclass=pool.NullPool,
        connect_args={
            "server_settings": {
                "statement_timeout": str(settings.job_statement_timeout_ms),
                "application_name": "polis-worker",
                "timezone": "UTC",
            }
        },
    )


@asynccontextmanager
async def _engine_of(context: JobContext) -> AsyncIterator[AsyncEngine]:
    engine = _engine(context.additional_context["database_url"], get_settings())
    try:
        yield engine
    finally:
        await engine.dispose()


@asynccontextmanager
async def unit_of_work(context: JobContext) -> AsyncIterator[AsyncSession]:
    """One transaction on the primary: committed when the block ends, rolled back on error."""
    from polis.db.session import Database

    async with _engine_of(context) as engine, Database.from_engine(engine).transaction() as s:
        yield s


def moment(timestamp: int | None) -> datetime:
    """The time a periodic job was scheduled for (now for a job deferred by hand)."""
    return datetime.fromtimestamp(timestamp, UTC) if timestamp else datetime.now(UTC)


def daily(hour: int, minute: int, zone: ZoneInfo = BANGKOK) -> str:
    """Cron (UTC) of a daily run at hour:minute local time in a zone without DST."""
    offset = zone.utcoffset(datetime(2026, 1, 1))
    assert offset is not None and offset == zone.utcoffset(datetime(2026, 7, 1))
    at = datetime(2026, 1, 2, hour, minute) - offset
    return f"{at.minute} {at.hour} * * *"


def _summary(verb: str, items: list[str]) -> str:
    shown = ", ".join(items[:20]) + (" ..." if len(items) > 20 else "")
    return f"{verb} {len(items)}" + (f": {shown}" if items else "")


# --- service calls (each also usable outside the worker) ------------------------------------


async def ensure_partitions(session: AsyncSession, today: date, settings: Settings) -> list[str]:
    """Create the partitions of the coming months (audit log, motor payments) and years
    (health claims) with the migrations' functions, which skip those that exist; the
    partitions now covering that range."""
    month = today.replace(day=1)
    for table in MONTHLY_PARTITIONED:
        await session.execute(
            text("SELECT public.ensure_monthly_partitions(:t, :d, :n)"),
            {"t": table, "d": month, "n": settings.partition_months_ahead},
        )
    for table in YEARLY_PARTITIONED:
        for year in range(today.year, today.year + settings.partition_years_ahead + 1):
            await session.execute(
                text("SELECT public.create_yearly_partition(:t, :d)"),
                {"t": table, "d": date(year, 1, 1)},
            )
    names = await session.scalars(
        text(
            "SELECT c.oid::regclass::text FROM pg_inherits i JOIN pg_class c"
            " ON c.oid = i.inhrelid WHERE i.inhparent = ANY(CAST(:parents AS regclass[]))"
            " ORDER BY 1"
        ),
        {"parents": list(MONTHLY_PARTITIONED + YEARLY_PARTITIONED)},
    )
    return list(names)


async def end_expired_sessions(session: AsyncSession, now: datetime, settings: Settings) -> int:
    """Mark sessions past expires_at ended (reason EXPIRED, as SessionRepository.terminate
    does for a logout) and those unused for SESSION_IDLE_MINUTES (IDLE_TIMEOUT, ended when
    they went idle), delete ended sessions older than SESSION_RETENTION_DAYS and expired
    Idempotency-Key records; returns the sessions ended (a second run ends none)."""
    from polis.iam.models import UserSession
    from polis.platform.idempotency import purge_expired

    ended = await session.execute(
        update(UserSession)
        .where(UserSession.is_active.is_(True), UserSession.expires_at <= now)
        .values(is_active=False, terminated_at=UserSession.expires_at, termination_reason="EXPIRED")
        .execution_options(synchronize_session=False)
    )
    idle = timedelta(minutes=settings.session_idle_minutes)
    went_idle = await session.execute(
        update(UserSession)
        .where(UserSession.is_active.is_(True), UserSession.last_activity_at <= now - idle)
        .values(
            is_active=False,
            terminated_at=UserSession.last_activity_at + idle,
            termination_reason="IDLE_TIMEOUT",
        )
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(UserSession)
        .where(
            UserSession.is_active.is_(False),
            UserSession.expires_at < now - timedelta(days=settings.session_retention_days),
        )
        .execution_options(synchronize_session=False)
    )
    await purge_expired(session, now)
    return int(getattr(ended, "rowcount", 0) or 0) + int(getattr(went_idle, "rowcount", 0) or 0)


def _statements(inbox: Path) -> list[Path]:
    return sorted(p for p in inbox.glob("*.csv") if p.is_file())


@dataclass
class InboxRun:
    reconciled: list[str]
    rejected: list[str]


async def reconcile_inbox(context: JobContext, inbox: Path) -> InboxRun:
    """Reconcile each bank statement CSV in `inbox` (polis.motor.reconciliation, the code of
    POST /motor/payments/reconciliations), then move it to done/ with its result as JSON, or
    to rejected/ with its errors when it cannot be read. A file reconciled again (a run that
    died before moving it) changes nothing: reconcile() skips bank transactions it has seen."""
    from polis.motor.reconciliation import InvalidStatement, parse_statement, reconcile

    run = InboxRun([], [])
    for path in _statements(inbox):
        try:
            lines = parse_statement(path.read_bytes())
        except InvalidStatement as exc:
            target = inbox / "rejected"
            target.mkdir(exist_ok=True)
            (target / f"{path.name}.errors.json").write_text(json.dumps(exc.extra, indent=1))
            path.replace(target / path.name)
            run.rejected.append(path.name)
            continue
        async with unit_of_work(context) as session:
            result = await reconcile(session, lines)
        target = inbox / "done"
        target.mkdir(exist_ok=True)
        (target / f"{path.name}.result.json").write_text(result.model_dump_json(indent=1))
        path.replace(target / path.name)
        run.reconciled.append(
            f"{path.name} ({result.matched} matched, {result.disputed} disputed,"
            f" {result.unmatched} unmatched)"
        )
    return run


# --- tasks ----------------------------------------------------------------------------------

_COMMON: dict[str, Any] = {"pass_context": True, "retry": RETRY}


@app.periodic(cron=daily(1, 0), periodic_id="daily")
@app.task(
    name="partitions", queue=MAINTENANCE, lock="partitions", queueing_lock="partitions", **_COMMON
)
async def partitions(context: JobContext, timestamp: int | None = None) -> str:
    """Partitions for the coming months and years."""
    settings = get_settings()
    today = moment(timestamp).astimezone(BANGKOK).date()
    async with unit_of_work(context) as session:
        names = await ensure_partitions(session, today, settings)
    return (
        f"{len(names)} partitions; monthly ones {settings.partition_months_ahead} months ahead,"
        f" yearly ones through {today.year + settings.partition_years_ahead}"
    )


@app.periodic(cron="*/15 * * * *", periodic_id="quarter-hourly")
@app.task(name="sessions", queue=MAINTENANCE, lock="sessions", queueing_lock="sessions", **_COMMON)
async def sessions(context: JobContext, timestamp: int | None = None) -> str:
    """End expired sessions; delete old ended ones and expired Idempotency-Keys."""
    async with unit_of_work(context) as session:
        n = await end_expired_sessions(session, datetime.now(UTC), get_settings())
    return f"ended {n} session(s)"


@app.periodic(cron=daily(0, 5), periodic_id="daily")
@app.task(
    name="motor.expire_policies",
    queue=BUSINESS,
    lock="motor.policies",
    queueing_lock="motor.expire_policies",
    **_COMMON,
)
async def motor_expire_policies(context: JobContext, timestamp: int | None = None) -> str:
    """Expire ended policies and activate paid renewals (polis motor expire-policies)."""
    from polis.motor.policies import expire_policies
    from polis.motor.quotes import today_bangkok

    async with unit_of_work(context) as session:
        done = await expire_policies(session, today_bangkok(moment(timestamp)))
    return _summary("expired", done)


@app.periodic(cron=daily(0, 10), periodic_id="daily")
@app.task(
    name="motor.suspend_overdue",
    queue=BUSINESS,
    lock="motor.policies",
    queueing_lock="motor.suspend_overdue",
    **_COMMON,
)
async def motor_suspend_overdue(context: JobContext, timestamp: int | None = None) -> str:
    """Suspend policies with an instalment unpaid past the grace period."""
    from polis.motor.policies import suspend_overdue
    from polis.motor.quotes import today_bangkok

    async with unit_of_work(context) as session:
        done = await suspend_overdue(session, today_bangkok(moment(timestamp)))
    return _summary("suspended", done)


@app.periodic(cron=daily(0, 20), periodic_id="daily")
@app.task(
    name="motor.auto_renew",
    queue=BUSINESS,
    lock="motor.policies",
    queueing_lock="motor.auto_renew",
    **_COMMON,
)
async def motor_auto_renew(context: JobContext, timestamp: int | None = None) -> str:
    """Renew auto-renewal policies ending within the lead time (polis motor auto-renew)."""
    from polis.motor.quotes import today_bangkok
    from polis.motor.renewals import auto_renew

    async with unit_of_work(context) as session:
        done = await auto_renew(session, today_bangkok(moment(timestamp)))
    return _summary("renewed", done)


@app.periodic(cron=daily(8, 0), periodic_id="daily")
@app.task(
    name="motor.renewal_notices",
    queue=BUSINESS,
    lock="motor.policies",
    queueing_lock="motor.renewal_notices",
    **_COMMON,
)
async def motor_renewal_notices(context: JobContext, timestamp: int | None = None) -> str:
    """Record the renewal notices due today (polis motor renewal-notices)."""
    from polis.motor.quotes import today_bangkok
    from polis.motor.renewals import renewal_notices

    async with unit_of_work(context) as session:
        done = await renewal_notices(session, today_bangkok(moment(timestamp)))
    return _summary("notified", done)


@app.periodic(cron="*/5 * * * *", periodic_id="five-minutes")
@app.task(
    name="motor.payment_timeouts",
    queue=BUSINESS,
    lock="motor.payment_timeouts",
    queueing_lock="motor.payment_timeouts",
    **_COMMON,
)
async def motor_payment_timeouts(context: JobContext, timestamp: int | None = None) -> str:
    """Gateway attempts PENDING past PAYMENT_TIMEOUT_MINUTES become TIMEOUT."""
    from polis.motor.gateway import expire_pending_payments

    async with unit_of_work(context) as session:
        rows = await expire_pending_payments(session, datetime.now(UTC))
        done = [str(row.gateway_reference) for row in rows]
    return _summary("timed out", done)


@app.periodic(cron="* * * * *", periodic_id="minutely")
@app.task(
    name="motor.claim_documents_ocr",
    queue=BUSINESS,
    lock="motor.claim_documents_ocr",
    queueing_lock="motor.claim_documents_ocr",
    **_COMMON,
)
async def motor_claim_documents_ocr(context: JobContext, timestamp: int | None = None) -> str:
    """OCR of claim documents still PENDING (decision 0052): the upload's own background task
    normally does it at once; this sweep takes what a crash or restart left behind
    (FOR UPDATE SKIP LOCKED, 20 at a time)."""
    from polis.motor.claim_documents import ocr_pending

    async with unit_of_work(context) as session:
        done = [str(i) for i in await ocr_pending(session, 20)]
    return _summary("read", done)


@app.periodic(cron=daily(0, 5, JAKARTA), periodic_id="daily")
@app.task(
    name="health.expire_authorizations",
    queue=BUSINESS,
    lock="health.expire_authorizations",
    queueing_lock="health.expire_authorizations",
    **_COMMON,
)
async def health_expire_authorizations(context: JobContext, timestamp: int | None = None) -> str:
    """Pre-authorisations past valid_to become expired (polis health expire-authorizations)."""
    from polis.health.authorizations import expire_authorizations

    day = moment(timestamp).astimezone(JAKARTA).date()
    async with unit_of_work(context) as session:
        n = await expire_authorizations(session, day)
    return f"expired {n} authorization(s) with valid_to before {day.isoformat()}"


@app.periodic(cron=daily(3, 0), periodic_id="nightly")
@app.task(
    name="maintenance",
    queue=MAINTENANCE,
    lock="maintenance",
    queueing_lock="maintenance",
    **_COMMON,
)
async def maintenance(context: JobContext, timestamp: int | None = None) -> str:
    """perform_maintenance() (ANALYZE), then VACUUM (ANALYZE) of the hot tables, each its own
    autocommit statement (VACUUM refuses a transaction; decision 0006)."""
    async with unit_of_work(context) as session:
        report = str(await session.scalar(text("SELECT public.perform_maintenance()")))
    vacuumed = []
    async with _engine_of(context) as engine, engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in HOT_TABLES:
            if await conn.scalar(text("SELECT to_regclass(:t)"), {"t": table}) is None:
                continue
            schema, name = table.split(".")
            await conn.execute(text(f'VACUUM (ANALYZE) "{schema}"."{name}"'))
            vacuumed.append(table)
    analyzed = report.count("Analyzed ")
    return f"analyzed {analyzed} table(s); vacuumed {', '.join(vacuumed)}"


@app.periodic(cron="*/30 * * * *", periodic_id="half-hourly")
@app.task(
    name="motor.reconciliation",
    queue=BUSINESS,
    lock="motor.reconciliation",
    queueing_lock="motor.reconciliation",
    **_COMMON,
)
async def motor_reconciliation(context: JobContext, timestamp: int | None = None) -> str:
    """Reconcile the bank statements dropped in RECONCILIATION_INBOX_DIR (off when unset)."""
    inbox = get_settings().reconciliation_inbox_dir
    if inbox is None:
        return "RECONCILIATION_INBOX_DIR is not set"
    if not inbox.is_dir():
        raise FileNotFoundError(f"RECONCILIATION_INBOX_DIR {inbox} is not a directory")
    run = await reconcile_inbox(context, inbox)
    return f"{_summary('reconciled', run.reconciled)}; {_summary('rejected', run.rejected)}"


@app.periodic(cron="*/5 * * * *", periodic_id="five-minutes")
@app.task(
    name="jobs.retry_stalled",
    queue=MAINTENANCE,
    lock="jobs.retry_stalled",
    queueing_lock="jobs.retry_stalled",
    **_COMMON,
)
async def jobs_retry_stalled(context: JobContext, timestamp: int | None = None) -> str:
    """Put back in the queue the jobs of workers that died (no heartbeat): safe, since every
    task is idempotent."""
    stalled = list(await context.app.job_manager.get_stalled_jobs())
    for job in stalled:
        if job.id != context.job.id:
            await context.app.job_manager.retry_job(job)
    return _summary("retried", [f"{job.task_name}[{job.id}]" for job in stalled])


@app.periodic(cron=daily(4, 30), periodic_id="daily")
@app.task(
    name="jobs.prune", queue=MAINTENANCE, lock="jobs.prune", queueing_lock="jobs.prune", **_COMMON
)
async def jobs_prune(context: JobContext, timestamp: int | None = None) -> str:
    """Delete succeeded and cancelled jobs finished more than JOB_KEEP_SUCCEEDED_DAYS ago
    (failed jobs stay until retried or deleted by hand)."""
    await context.app.job_manager.delete_old_jobs(
        nb_hours=24 * get_settings().job_keep_succeeded_days, include_cancelled=True
    )
    return "pruned"


def _first_sentence(doc: str | None) -> str:
    words = " ".join((doc or "").split())
    end = words.find(". ")
    return words if end < 0 else words[: end + 1]


def _local(task_name: str, cron: str) -> str:
    m = re.fullmatch(r"(\d+) (\d+) \* \* \*", cron)
    if m is None:
        every = re.fullmatch(r"\*/(\d+) \* \* \* \*", cron)
        return f"every {every.group(1)} min" if every else cron
    zone = JAKARTA if task_name.startswith("health.") else BANGKOK
    offset = zone.utcoffset(datetime(2026, 1, 1)) or timedelta(0)
    at = datetime(2026, 1, 2, int(m.group(2)), int(m.group(1))) + offset
    return f"{at:%H:%M} {zone.key}"


def schedule() -> list[tuple[str, str, str, str, str]]:
    """(task, queue, cron in UTC, local time, what it does) of every periodic task."""
    rows = []
    for periodic_task in app.periodic_registry.periodic_tasks.values():
        task = periodic_task.task
        rows.append(
            (
                task.name,
                task.queue,
                periodic_task.cron,
                _local(task.name, periodic_task.cron),
                _first_sentence(task.func.__doc__),
            )
        )
    return sorted(rows)
