"""Bank statement reconciliation (decision 0048): each CSV line MATCHED, UNMATCHED or
DISPUTED against the payments, reconciled_at set on a match, a re-upload changes nothing, a
bad file is 422 field by field and writes nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.motor.reconciliation import InvalidStatement, parse_statement
from tests.motor.test_policies_api import PAYMENTS, bound_policy, confirm, scalar, staff

URL = f"{PAYMENTS}/reconciliations"
PROBLEM = "application/problem+json"


def _csv(*lines: str, header: str = "date,amount,reference,bank_transaction_id") -> bytes:
    return ("\n".join((header, *lines)) + "\n").encode()


async def _upload(client: AsyncClient, headers: dict[str, str], data: bytes) -> Any:
    files = {"file": ("statement.csv", data, "text/csv")}
    return await client.post(URL, files=files, headers=headers)


async def _reconciliation(session: AsyncSession, payment_id: str) -> Any:
    return (
        await session.execute(
            text("select reconciliation_status, reconciled_at from motor.payments where id = :p"),
            {"p": payment_id},
        )
    ).one()


async def _rows(session: AsyncSession) -> int:
    return int(
        await scalar(
            session,
            "select count(*) from motor.payment_transactions"
            " where gateway_provider = 'BANK_STATEMENT'",
        )
        or 0
    )


def test_parse_statement() -> None:
    lines = parse_statement(
        b"\xef\xbb\xbfdate,amount,reference,bank_transaction_id\n"
        b"2026-01-05,645.21,MTR20260000000101,KB-1\n\n"
        b"2026-01-06, 100 ,X,KB-2\n"
    )
    assert [(x.line, x.date, x.amount, x.reference, x.bank_transaction_id) for x in lines] == [
        (2, date(2026, 1, 5), Decimal("645.21"), "MTR20260000000101", "KB-1"),
        (4, date(2026, 1, 6), Decimal("100.00"), "X", "KB-2"),
    ]
    with pytest.raises(InvalidStatement) as bad:
        parse_statement(
            _csv(
                "2026-13-01,1.00,R,A",
                "2026-01-01,1.001,R,B",
                "2026-01-01,-5,R,C",
                "2026-01-01,1.00,,D",
                "2026-01-01,1.00,R,D",
                "2026-01-01,1.00,R,D",
                "2026-01-01,1.00,R",
            )
        )
    fields = [(e["field"], e["type"]) for e in bad.value.extra["errors"]]
    assert fields == [
        ("file.line2.date", "date"),
        ("file.line3.amount", "amount"),
        ("file.line4.amount", "amount"),
        ("file.line5.reference", "reference"),
        ("file.line7.bank_transaction_id", "duplicate"),
        ("file.line8.row", "columns"),
    ]
    with pytest.raises(InvalidStatement):
        parse_statement(_csv("2026-01-01,1.00,R,A", header="when,amount,ref,id"))
    with pytest.raises(InvalidStatement):
        parse_statement(b"\xff\xfe")


async def test_matched_unmatched_disputed_and_idempotent_reupload(
    client: AsyncClient, session: AsyncSession
) -> None:
    headers = await staff(client, session, role="FINANCE")
    agent = await staff(client, session, role="AGENT")
    paid = await bound_policy(client, agent)
    p1 = paid["payments"][0]
    assert (await confirm(client, agent, p1, "KBANK-777")).status_code == 200
    other = await bound_policy(client, agent)
    p2 = other["payments"][0]
    by_txn_ref = await bound_policy(client, agent)
    p3 = by_txn_ref["payments"][0]
    assert (await confirm(client, agent, p3, "SCB-2026-0042")).status_code == 200

    statement = _csv(
        f"2026-01-05,645.21,{p1['reference']},KB-0001",  # MATCHED by the bill reference
        "2026-01-05,999.00,NOBODY-123,KB-0002",  # UNMATCHED
        f"2026-01-06,600.00,{p2['reference']},KB-0003",  # DISPUTED: 645.21 due
        "2026-01-06,645.21,SCB-2026-0042,KB-0004",  # MATCHED by transaction_reference
    )
    response = await _upload(client, headers, statement)
    assert response.status_code == 200, response.text
    body = response.json()
    assert {k: body[k] for k in ("statement_lines", "matched", "unmatched", "disputed")} == {
        "statement_lines": 4,
        "matched": 2,
        "unmatched": 1,
        "disputed": 1,
    }
    assert body["already_reconciled"] == 0
    lines = body["lines"]
    assert [(x["line"], x["status"]) for x in lines] == [
        (2, "MATCHED"),
        (3, "UNMATCHED"),
        (4, "DISPUTED"),
        (5, "MATCHED"),
    ]
    assert lines[0]["payment_id"] == p1["id"] and lines[0]["amount"] == "645.21"
    assert lines[0]["reconciled_at"] is not None
    assert lines[1]["payment_id"] is None and lines[1]["expected_amount"] is None
    assert lines[2]["expected_amount"] == "645.21" and lines[2]["amount"] == "600.00"
    assert lines[2]["reconciled_at"] is None
    assert lines[3]["payment_id"] == p3["id"]

    matched = await _reconciliation(session, p1["id"])
    assert matched.reconciliation_status == "MATCHED" and matched.reconciled_at is not None
    disputed = await _reconciliation(session, p2["id"])
    assert (disputed.reconciliation_status, disputed.reconciled_at) == ("DISPUTED", None)
    assert (await _reconciliation(session, p3["id"])).reconciliation_status == "MATCHED"
    assert await _rows(session) == 3  # the unmatched line has no row of its own

    # The same statement again: the same verdicts, nothing written, reconciled_at kept.
    again = (await _upload(client, headers, statement)).json()
    assert [x["status"] for x in again["lines"]] == [x["status"] for x in lines]
    assert again["already_reconciled"] == 3
    assert await _rows(session) == 3
    assert (await _reconciliation(session, p1["id"])).reconciled_at == matched.reconciled_at

    # A second credit for an already matched payment is DISPUTED; the payment stays MATCHED.
    double = (
        await _upload(client, headers, _csv(f"2026-01-07,645.21,{p1['reference']},KB-9"))
    ).json()
    assert double["lines"][0]["status"] == "DISPUTED"
    assert (await _reconciliation(session, p1["id"])).reconciliation_status == "MATCHED"
    # The disputed payment's correct credit arrives: MATCHED.
    fixed = (
        await _upload(client, headers, _csv(f"2026-01-08,645.21,{p2['reference']},KB-10"))
    ).json()
    assert fixed["lines"][0]["status"] == "MATCHED"
    assert (await _reconciliation(session, p2["id"])).reconciliation_status == "MATCHED"


async def test_bad_file_is_422_and_writes_nothing(
    client: AsyncClient, session: AsyncSession
) -> None:
    headers = await staff(client, session, role="FINANCE")
    agent = await staff(client, session, role="AGENT")
    policy = await bound_policy(client, agent)
    p = policy["payments"][0]
    data = _csv(f"2026-01-05,645.21,{p['reference']},KB-1", "2026-02-30,1.00,X,KB-2")
    response = await _upload(client, headers, data)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"] == [
        {"field": "file.line3.date", "message": "expected YYYY-MM-DD", "type": "date"}
    ]
    assert (await _reconciliation(session, p["id"])).reconciliation_status == "PENDING"
    assert await _rows(session) == 0
    assert (await client.post(URL, headers=headers)).status_code == 422  # no file
    assert (await _upload(client, agent, data)).status_code == 403  # motor.payments:reconcile
