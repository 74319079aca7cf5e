"""Claim lines keep the order they were submitted in (claims.claim_item.line_number, decision
0038): in the POST answer, in GET, in the EOB and after a re-adjudication."""

from __future__ import annotations

import uuid

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.health.adjudication import readjudicate_claim
from tests.health.test_claims_api import CLAIMS, _staff, _world, claim_body, gp

# Deliberately not in benefit-code order, with repeats: the order is the caller's.
ORDER = ["OP-GP", "DENT", "OP-GP", "DENT", "OP-GP"]


def _items() -> list[dict[str, object]]:
    lines: list[dict[str, object]] = []
    for n, code in enumerate(ORDER, start=1):
        if code == "OP-GP":
            lines.append(gp(f"{n * 10000}.00", service_code=f"SVC-{n}"))
        else:
            lines.append({"benefit_code": "DENT", "service_code": f"SVC-{n}", "charged_amount": n})
    return lines


async def test_lines_come_back_in_submitted_order(
    client: AsyncClient, session: AsyncSession
) -> None:
    w = await _world(session)
    headers = await _staff(client, session)
    posted = await client.post(CLAIMS, json=claim_body(w, *_items()), headers=headers)
    assert posted.status_code == 201, posted.text
    claim = posted.json()
    expected = [f"SVC-{n}" for n in range(1, len(ORDER) + 1)]
    assert [i["service_code"] for i in claim["items"]] == expected
    assert [i["benefit_code"] for i in claim["items"]] == ORDER

    # GET answers exactly what POST answered (built from the outcome, not read back).
    got = await client.get(f"{CLAIMS}/{claim['id']}", headers=headers)
    assert got.status_code == 200, got.text
    assert got.json() == claim

    rows = (
        await session.execute(
            text(
                "select line_number, service_code from claims.claim_item"
                " where claim_id = :id order by line_number"
            ),
            {"id": claim["id"]},
        )
    ).all()
    assert [tuple(r) for r in rows] == [(n, f"SVC-{n}") for n in range(1, len(ORDER) + 1)]

    # A re-adjudication copies the lines in the same order.
    outcome = await readjudicate_claim(session, uuid.UUID(claim["id"]), "tester")
    again = (
        await session.execute(
            text(
                "select line_number, service_code from claims.claim_item"
                " where claim_id = :id order by line_number"
            ),
            {"id": outcome.replacement.claim_id},
        )
    ).all()
    assert [tuple(r) for r in again] == [(n, f"SVC-{n}") for n in range(1, len(ORDER) + 1)]
