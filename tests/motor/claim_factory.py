"""Shared factories of the motor claim tests: an ACTIVE policy through the real API (quote,
bind, pay), staff of a role, and a claim row inserted directly (for tests of assessments,
settlement and documents that do not exercise first notice of loss)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.iam.models import User
from polis.motor.models import MotorClaim
from polis.motor.quotes import today_bangkok
from tests.iam.factories import signed_in
from tests.motor.test_policies_api import bind, confirm, quote, vehicle

BANGKOK = ZoneInfo("Asia/Bangkok")
MOTOR = "/api/v1/motor"
CLAIMS = f"{MOTOR}/claims"


async def staff_user(
    client: AsyncClient, session: AsyncSession, role: str = "ADMIN"
) -> tuple[User, dict[str, str]]:
    """A new user of `role` and its Authorization header."""
    return await signed_in(client, session, role=role)


def class1_quote(**over: Any) -> dict[str, Any]:
    """Quote options for a CLASS_1 policy with a 2,000 THB voluntary deductible."""
    body: dict[str, Any] = {
        "policy_type": "CLASS_1",
        "sum_insured": "650000",
        "options": {"voluntary_deductible": "2000"},
    }
    body.update(over)
    return body


async def active_policy(
    client: AsyncClient,
    headers: dict[str, str],
    *,
    start: date | None = None,
    **quote_over: Any,
) -> dict[str, Any]:
    """An ACTIVE policy (quote -> bind -> the FULL premium paid) on a new customer's vehicle,
    starting `start` (default today, Bangkok). `quote_over` goes into the quote body, e.g.
    `**class1_quote()`; the default is a CMI policy. Returns the policy as GET returns it."""
    _, vehicle_id = await vehicle(client, headers)
    q = await quote(client, headers, vehicle_id, start=start or today_bangkok(), **quote_over)
    response = await bind(client, headers, q["quote_number"])
    assert response.status_code == 201, response.text
    policy = response.json()
    response = await confirm(client, headers, policy["payments"][0], f"B-{uuid.uuid4().hex[:8]}")
    assert response.status_code == 200, response.text
    response = await client.get(f"{MOTOR}/policies/{policy['policy_number']}", headers=headers)
    assert response.status_code == 200, response.text
    got = dict(response.json())
    assert got["status"] == "ACTIVE", got
    return got


async def backdate_policy(session: AsyncSession, policy_id: str, days: int) -> None:
    """Move a policy's period `days` into the past (start and end), for incidents before
    today that the quote API would not let us start in the past."""
    await session.execute(
        text(
            "update motor.policies set start_date = start_date - cast(:d as integer),"
            " end_date = end_date - cast(:d as integer) where id = :id"
        ),
        {"d": days, "id": policy_id},
    )
    await session.flush()


async def insert_claim(
    session: AsyncSession,
    policy_id: str | uuid.UUID,
    *,
    status: str = "REPORTED",
    claim_type: str = "ACCIDENT",
    incident_date: datetime | None = None,
    **values: Any,
) -> MotorClaim:
    """A claim row written directly (no first-notice rules, no fraud scoring): for tests of
    later steps. `values` sets any other column (adjuster_id, estimated_amount, ...)."""
    incident = incident_date or datetime.combine(today_bangkok(), time(9), tzinfo=BANGKOK)
    claim = MotorClaim(
        claim_number=values.pop("claim_number", f"TCLM-{uuid.uuid4().hex[:10].upper()}"),
        policy_id=uuid.UUID(str(policy_id)),
        incident_date=incident,
        reported_date=values.pop("reported_date", max(incident, datetime.now(UTC))),
        claim_type=claim_type,
        status=status,
        incident_description=values.pop("incident_description", "Rear-ended at a red light"),
        estimated_amount=values.pop("estimated_amount", Decimal("30000.00")),
        **values,
    )
    session.add(claim)
    await session.flush()
    await session.refresh(claim)
    return claim


def today() -> date:
    return today_bangkok()


def days_ago(n: int) -> datetime:
    """Nine in the morning, Bangkok time, `n` days before today."""
    return datetime.combine(today_bangkok() - timedelta(days=n), time(9), tzinfo=BANGKOK)
