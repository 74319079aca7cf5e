"""Batch adjudication: `polis health adjudicate --file claims.jsonl` (decision 0029).

Each input line is one claim in the JSON shape of `POST /api/v1/health/claims`, validated by
the same schema (`polis.health.schemas.ClaimCreate`), converted by the same function
(`polis.health.endpoints.claim_request`) and adjudicated by the same use case
(`polis.health.adjudication.submit_claim`) as the API. Each line gets one output line:

    {"line": 3, "ok": true, "claim_id": "...", "claim_number": "CLM-2025-...",
     "status": "approved", "pended_reason": null, "total_charged_amount": "250000.00", ...}
    {"line": 4, "ok": false, "error": {"type": "urn:polis:problem:member-not-found",
     "title": "Not Found", "status": 404, "detail": "Member MBR-X not found."}}

Transactions: every claim runs in its own savepoint, so a refused claim rolls back alone and
the others go on; `batch_size` claims share one transaction (one commit), which is where the
speed comes from. The price: the claims of one batch commit together, their accumulator locks
are held until that commit, and a crash loses the uncommitted batch (its lines are not in the
output, which is written after each commit: the output lists exactly the committed lines).

Workers: `workers` connections run batches side by side. Lines are dealt to workers by
member_number, so one member's claims stay in one worker, in file order, and workers rarely
wait on each other's locks. Claims of one family (a family deductible locks every member's
plan-level row) may still meet across workers: since a batch holds the locks of all its
claims until it commits, two batches can deadlock; PostgreSQL then refuses one claim, its
savepoint is rolled back, the batch commits what it has and the claim is retried in a fresh
transaction. Output lines come in commit order (with one worker: input order); each carries
its input `line` number.
"""

from __future__ import annotations

import asyncio
import json
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import structlog
from pydantic import ValidationError
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from polis.health.adjudication import ClaimOutcome, submit_claim
from polis.health.schemas import ClaimCreate
from polis.platform.errors import PolisError, field_errors, pg_error, problem_type

log = structlog.get_logger("polis.health.batch")

DEFAULT_BATCH_SIZE = 100
DEFAULT_WORKERS = 4
MAX_ATTEMPTS = 5
# Deadlock, serialisation failure, lock not available: the claim is retried (see above).
RETRYABLE = frozenset({"40P01", "40001", "55P03"})

Emit = Callable[[list[dict[str, Any]]], None]
# A numbered input line: its claim, or the output line of a line that did not parse (which
# travels with the claims so that one worker writes the output in input order).
Item = tuple[int, ClaimCreate | dict[str, Any]]


@dataclass
class BatchSummary:
    """What a run did: lines read (blank lines are skipped), claims written, lines refused,
    claim statuses, wall time."""

    count: int = 0
    ok: int = 0
    errors: int = 0
    seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        """Lines handled per second."""
        return self.count / self.seconds if self.seconds > 0 else 0.0

    def text(self) -> str:
        """One line for stderr."""
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))
        return (
            f"{self.count} lines: {self.ok} ok, {self.errors} errors in {self.seconds:.2f} s "
            f"({self.rate:.1f} claims/s)" + (f"; {statuses}" if statuses else "")
        )


def _problem(slug: str, title: str, status: int, detail: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": problem_type(slug),
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }


def _error(line: int, problem: dict[str, Any]) -> dict[str, Any]:
    return {"line": line, "ok": False, "error": problem}


def parse_line(number: int, text: str) -> ClaimCreate | dict[str, Any]:
    """The validated claim of one input line, or its error output line (the same
    problem+json as the API's 422; input values are never echoed)."""
    try:
        return ClaimCreate.model_validate_json(text)
    except ValidationError as exc:
        errors = field_errors(exc.errors())
        noun = "field is" if len(errors) == 1 else "fields are"
        return _error(
            number,
            _problem(
                "validation-error",
                "Invalid Request",
                422,
                f"{len(errors)} {noun} invalid.",
                errors=errors,
            ),
        )


def _ok(line: int, outcome: ClaimOutcome) -> dict[str, Any]:
    totals = outcome.result.totals
    return {
        "line": line,
        "ok": True,
        "claim_id": str(outcome.claim_id),
        "claim_number": outcome.claim_number,
        "status": outcome.status,
        "pended_reason": outcome.pended_reason,
        "total_charged_amount": str(totals.charged),
        "total_approved_amount": str(totals.approved),
        "total_paid_amount": str(totals.paid),
        "member_responsibility": str(totals.member_responsibility),
    }


def _polis_error(line: int, exc: PolisError) -> dict[str, Any]:
    return _error(line, _problem(exc.type_, exc.title, exc.status_code, exc.message, **exc.extra))


def _database_error(line: int, sqlstate: str | None) -> dict[str, Any]:
    return _error(
        line,
        _problem(
            "database-error",
            "Database Error",
            409 if sqlstate in RETRYABLE else 500,
            f"The database refused the claim (SQLSTATE {sqlstate or 'unknown'}).",
        ),
    )


def _internal_error(line: int) -> dict[str, Any]:
    return _error(
        line,
        _problem(
            "internal-error",
            "Internal Server Error",
            500,
            "An unexpected error occurred; it is in the log with this line number.",
        ),
    )


class _Worker:
    """One connection's loop: take up to `batch_size` claims, adjudicate each in a
    savepoint, commit, emit the results."""

    def __init__(
        self,
        maker: async_sessionmaker[AsyncSession],
        queue: asyncio.Queue[Item | None],
        emit: Emit,
        *,
        batch_size: int,
        created_by: str,
    ) -> None:
        self.maker = maker
        self.queue = queue
        self.emit = emit
        self.batch_size = batch_size
        self.created_by = created_by

    async def run(self) -> None:
        finished = False
        while not finished:
            chunk: list[Item] = []
            while len(chunk) < self.batch_size:
                item = await self.queue.get()
                if item is None:
                    finished = True
                    break
                chunk.append(item)
            if chunk:
                await self._chunk(chunk)

    async def _chunk(self, chunk: list[Item]) -> None:
        from polis.health.endpoints import claim_request  # the API's own conversion

        attempts: Counter[int] = Counter()
        pending = chunk
        while pending:
            done: list[dict[str, Any]] = []
            retry_at: int | None = None
            try:
                async with self.maker() as session, session.begin():
                    for index, (number, body) in enumerate(pending):
                        if isinstance(body, dict):  # a line that did not parse
                            done.append(body)
                            continue
                        try:
                            async with session.begin_nested():
                                outcome = await submit_claim(
                                    session, claim_request(body, self.created_by)
                                )
                        except PolisError as exc:
                            done.append(_polis_error(number, exc))
                        except sa_exc.DBAPIError as exc:
                            sqlstate = pg_error(exc)[0]
                            attempts[number] += 1
                            if sqlstate in RETRYABLE and attempts[number] < MAX_ATTEMPTS:
                                retry_at = index
                                break
                            log.warning("batch_claim_failed", line=number, sqlstate=sqlstate)
                            done.append(_database_error(number, sqlstate))
                        except Exception:  # a bug must not stop the other lines
                            log.exception("batch_claim_crashed", line=number)
                            done.append(_internal_error(number))
                        else:
                            done.append(_ok(number, outcome))
            except Exception as exc:
                # The connection or the commit failed: nothing of this transaction was
                # written; every line still pending is reported, none is retried.
                sqlstate = pg_error(exc)[0] if isinstance(exc, sa_exc.DBAPIError) else None
                log.warning("batch_commit_failed", lines=len(pending), sqlstate=sqlstate)
                done = [
                    body if isinstance(body, dict) else _database_error(n, sqlstate)
                    for n, body in pending
                ]
                retry_at = None
            self.emit(done)
            if retry_at is None:
                return
            pending = pending[retry_at:]
            await asyncio.sleep(0.01 * attempts[pending[0][0]])


def _worker_of(body: ClaimCreate, workers: int) -> int:
    return zlib.crc32(body.member_number.encode()) % workers


async def adjudicate_lines(
    engine: AsyncEngine,
    lines: Iterable[str],
    emit: Emit,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int = DEFAULT_WORKERS,
    created_by: str = "polis-batch",
) -> BatchSummary:
    """Adjudicate the claims of `lines` (JSON, one per line, numbered from 1); `emit` gets
    each batch's output lines after its commit (parse errors at once)."""
    if batch_size < 1 or workers < 1:
        raise ValueError("batch_size and workers must be at least 1")
    summary = BatchSummary()

    def count(results: list[dict[str, Any]]) -> None:
        for r in results:
            if r["ok"]:
                summary.ok += 1
                summary.statuses[r["status"]] += 1
            else:
                summary.errors += 1
        emit(results)

    maker = async_sessionmaker(engine, expire_on_commit=False)
    queues: list[asyncio.Queue[Item | None]] = [
        asyncio.Queue(maxsize=2 * batch_size) for _ in range(workers)
    ]
    tasks = [
        asyncio.create_task(
            _Worker(maker, q, count, batch_size=batch_size, created_by=created_by).run()
        )
        for q in queues
    ]
    started = time.perf_counter()
    try:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            summary.count += 1
            parsed = parse_line(number, text)
            worker = number % workers if isinstance(parsed, dict) else _worker_of(parsed, workers)
            await queues[worker].put((number, parsed))
        for q in queues:
            await q.put(None)
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
    summary.seconds = time.perf_counter() - started
    return summary


def dumps(result: dict[str, Any]) -> str:
    """One output line (compact JSON, no trailing newline)."""
    return json.dumps(result, ensure_ascii=False, separators=(",", ":"))


async def adjudicate_file(
    url: str,
    source: Path,
    out: TextIO,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int = DEFAULT_WORKERS,
    created_by: str = "polis-batch",
) -> BatchSummary:
    """Adjudicate the JSON lines of `source` against the database at libpq `url`, writing
    one output line per input line to `out` (flushed after each commit)."""
    from polis.config import get_settings
    from polis.db.session import make_engine

    engine = make_engine(url, get_settings())

    def emit(results: list[dict[str, Any]]) -> None:
        for result in results:
            out.write(dumps(result) + "\n")
        out.flush()

    try:
        with source.open(encoding="utf-8") as lines:
            return await adjudicate_lines(
                engine,
                lines,
                emit,
                batch_size=batch_size,
                workers=workers,
                created_by=created_by,
            )
    finally:
        await engine.dispose()
