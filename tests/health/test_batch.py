"""Batch adjudication (`polis health adjudicate --file`): good and bad lines give the right
output lines, the right rows and accumulators moved once; a bad line stops nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from typer.testing import CliRunner

from polis.cli import app as polis_app
from polis.config import get_settings
from polis.db import migrate
from polis.db.urls import with_driver
from polis.health.batch import adjudicate_lines, dumps
from polis.health.models import Accumulator, Claim, ClaimItem
from tests.health.test_adjudication_service import ClaimWorld, build_world
from tests.health.test_claims_api import claim_body, gp

D = Decimal


@pytest.fixture
def batch_db(create_database: Callable[[], str]) -> str:
    """A dedicated migrated database: the batch commits, so it cannot share the
    rolled-back test transaction."""
    url = create_database()
    migrate.upgrade(url)
    return url


@pytest.fixture
def env_database(batch_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """DATABASE_URL pointing at the batch database, for the CLI."""
    monkeypatch.setenv("DATABASE_URL", batch_db)
    get_settings.cache_clear()
    yield batch_db
    get_settings.cache_clear()


async def _world(url: str, *, members: int = 1) -> list[ClaimWorld]:
    """`members` separate worlds (plan, policy, provider, member), committed."""
    engine = create_async_engine(with_driver(url, "asyncpg"))
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as s, s.begin():
            return [await build_world(s) for _ in range(members)]
    finally:
        await engine.dispose()


async def _state(url: str, w: ClaimWorld) -> dict[str, Any]:
    engine = create_async_engine(with_driver(url, "asyncpg"))
    try:
        async with async_sessionmaker(engine)() as s:
            claims = (
                await s.execute(
                    select(Claim.claim_number, Claim.status, Claim.total_paid_amount)
                    .where(Claim.member_id == w.member.id)
                    .order_by(Claim.claim_number)
                )
            ).all()
            items = await s.scalar(
                select(func.count())
                .select_from(ClaimItem)
                .join(Claim, Claim.id == ClaimItem.claim_id)
                .where(Claim.member_id == w.member.id)
            )
            accumulators = {
                r[0]: (r[1], r[2], r[3])
                for r in await s.execute(
                    select(
                        Accumulator.benefit_code,
                        Accumulator.used_amount,
                        Accumulator.visit_count,
                        Accumulator.deductible_met,
                    ).where(Accumulator.member_id == w.member.id)
                )
            }
        return {"claims": [tuple(c) for c in claims], "items": items, "acc": accumulators}
    finally:
        await engine.dispose()


def _lines(w: ClaimWorld) -> list[str]:
    """Good and bad lines; the comment after each says what it must give."""
    good = json.dumps(claim_body(w, gp("1000000.00")))
    return [
        good,  # 1: OP-GP, pays 315,000 (discount, deductible 500,000, copay, coinsurance)
        '{"member_number": "MBR-1", ',  # 2: not JSON
        json.dumps({**claim_body(w), "member_number": "MBR-NOBODY"}),  # 3: unknown member
        "",  # blank: skipped, no output
        json.dumps(claim_body(w, gp("-5.00"))),  # 4: negative amount
        json.dumps(claim_body(w, gp(diagnosis_code="Q99.99X"))),  # 5: not ICD-10
        json.dumps(claim_body(w, gp("200000.00"))),  # 6: deductible met: pays 117,000
        json.dumps(claim_body(w, {"benefit_code": "DENT", "charged_amount": "300000"})),  # 7
        json.dumps({**claim_body(w), "provider_code": "PRV-NONE"}),  # 8: unknown provider
        json.dumps(claim_body(w, gp("100000.00"), service_date="2019-06-01")),  # 9: no cover
    ]


def _check(results: list[dict[str, Any]], w: ClaimWorld) -> None:
    by_line = {r["line"]: r for r in results}
    assert sorted(by_line) == [1, 2, 3, 5, 6, 7, 8, 9, 10]  # one per non-blank input line
    assert len(results) == 9
    ok = {n: r for n, r in by_line.items() if r["ok"]}
    assert sorted(ok) == [1, 7, 8]
    assert [
        (
            ok[n]["status"],
            ok[n]["total_charged_amount"],
            ok[n]["total_approved_amount"],
            ok[n]["total_paid_amount"],
            ok[n]["member_responsibility"],
        )
        for n in (1, 7, 8)
    ] == [
        ("approved", "1000000.00", "900000.00", "315000.00", "685000.00"),
        ("approved", "200000.00", "180000.00", "117000.00", "83000.00"),
        ("denied", "300000.00", "0.00", "0.00", "300000.00"),
    ]
    assert all(ok[n]["claim_number"].startswith("CLM-2025-") for n in ok)
    errors = {n: r["error"] for n, r in by_line.items() if not r["ok"]}
    slug = {n: (e["type"].rsplit(":", 1)[1], e["status"]) for n, e in errors.items()}
    assert slug == {
        2: ("validation-error", 422),
        3: ("member-not-found", 404),
        5: ("validation-error", 422),
        6: ("validation-error", 422),
        9: ("provider-not-found", 404),
        10: ("no-coverage", 422),
    }
    assert {e["field"] for e in errors[5]["errors"]} == {
        "items.0.charged_amount",
        "items.0.unit_price",
    }
    assert errors[6]["errors"][0]["field"] == "items.0.diagnosis_code"
    assert "MBR-NOBODY" in errors[3]["detail"]


def _check_state(state: dict[str, Any], results: list[dict[str, Any]]) -> None:
    numbers = sorted(r["claim_number"] for r in results if r["ok"])
    assert [c[0] for c in state["claims"]] == numbers  # exactly the ok lines, nothing else
    assert sorted(c[1] for c in state["claims"]) == ["approved", "approved", "denied"]
    assert state["items"] == 3
    # Moved once: OP-GP used 315,000 + 117,000, two visits; the deductible met once.
    assert state["acc"]["OP-GP"][:2] == (D("432000.00"), 2)
    assert state["acc"][None][0] == D("432000.00")
    assert state["acc"][None][2] == D("500000.00")
    assert "DENT" in state["acc"] and state["acc"]["DENT"][:2] == (D("0.00"), 0)


def test_cli_good_and_bad_lines(env_database: str, tmp_path: Path) -> None:
    (w,) = asyncio.run(_world(env_database))
    source = tmp_path / "claims.jsonl"
    source.write_text("\n".join(_lines(w)) + "\n", encoding="utf-8")
    out = tmp_path / "results.jsonl"
    result = CliRunner().invoke(
        polis_app,
        [
            "health",
            "adjudicate",
            "--file",
            str(source),
            "--out",
            str(out),
            "--batch-size",
            "2",
            "--workers",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "9 lines: 3 ok, 6 errors" in result.stderr
    assert "claims/s" in result.stderr
    results = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    _check(results, w)
    _check_state(asyncio.run(_state(env_database, w)), results)

    # The same file again: new claims; the limit and deductible state carry on from the
    # first run (the deductible is met, so the first line now pays 900,000 - 50,000 - 10%).
    again = CliRunner().invoke(
        polis_app, ["health", "adjudicate", "--file", str(source), "--workers", "1"]
    )
    assert again.exit_code == 0, again.output
    second = [json.loads(line) for line in again.stdout.splitlines()]
    assert [r["line"] for r in second] == [1, 2, 3, 5, 6, 7, 8, 9, 10]  # one worker: in order
    assert second[0]["total_paid_amount"] == "765000.00"


async def test_function_mixed_members_and_batches(batch_db: str) -> None:
    """Three members' lines interleaved, small batches over three workers: each member's
    claims run in file order, so each gets exactly the amounts of a run of its own."""
    worlds = await _world(batch_db, members=3)
    per_member = [_lines(w) for w in worlds]
    interleaved = [line for triple in zip(*per_member, strict=True) for line in triple]
    engine = create_async_engine(with_driver(batch_db, "asyncpg"), pool_size=3)
    results: list[dict[str, Any]] = []
    try:
        summary = await adjudicate_lines(
            engine, interleaved, results.extend, batch_size=2, workers=3
        )
    finally:
        await engine.dispose()
    assert (summary.count, summary.ok, summary.errors) == (27, 9, 18)
    assert summary.statuses == {"approved": 6, "denied": 3}
    assert all(json.loads(dumps(r)) == r for r in results)
    for k, w in enumerate(worlds):
        # Input line n of member k sits at 3 * (n - 1) + k + 1 in the interleaved file.
        mine = [
            {**r, "line": (r["line"] - 1 - k) // 3 + 1} for r in results if (r["line"] - 1) % 3 == k
        ]
        _check(mine, w)
        _check_state(await _state(batch_db, w), mine)
