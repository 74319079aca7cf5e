"""The seed's views back the list endpoints (decision 0019): claims.claim_summary_view gives
each listed claim its member's and provider's names, member.active_members_view answers
GET /members?active=. Their read-only mappings match PostgreSQL's catalogue and stay out
of the models' metadata."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from httpx import AsyncClient
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from polis.db.base import load_all_models
from polis.health.adjudication import submit_claim
from polis.health.models import Member, MemberCoverage
from polis.health.views import VIEWS, active_members_view, claim_summary_view
from tests.health.test_adjudication_service import build_world, request
from tests.health.test_schema import add_member, cover
from tests.iam.factories import signed_in

CLAIMS = "/api/v1/health/claims"
MEMBERS = "/api/v1/health/members"


async def _catalogue(session: AsyncSession, schema: str, name: str) -> list[tuple[str, str]]:
    rows = await session.execute(
        text(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = :s and table_name = :n order by ordinal_position"
        ),
        {"s": schema, "n": name},
    )
    return [(r[0], r[1]) for r in rows]


_PG_TYPES = {
    "uuid": "uuid",
    "string": "character varying",
    "text": "text",
    "date": "date",
    "numeric": "numeric",
}


async def test_mappings_match_the_views_in_the_database(session: AsyncSession) -> None:
    for view in (claim_summary_view, active_members_view):
        assert view.schema is not None
        columns = await _catalogue(session, view.schema, view.name)
        assert columns, f"{view.fullname} is not in the database"
        mapped = [(c.name, _PG_TYPES[c.type.__visit_name__]) for c in view.columns]
        assert mapped == columns, view.fullname
        kind = await session.scalar(
            text(
                "select table_type from information_schema.tables"
                " where table_schema = :s and table_name = :n"
            ),
            {"s": view.schema, "n": view.name},
        )
        assert kind == "VIEW"


def test_views_stay_out_of_the_models_metadata() -> None:
    models = load_all_models()
    assert VIEWS is not models
    for name in VIEWS.tables:
        assert name not in models.tables


async def test_claim_list_items_carry_the_views_names(
    client: AsyncClient, session: AsyncSession
) -> None:
    w = await build_world(session)
    outcome = await submit_claim(session, request(w))
    await session.commit()
    _, headers = await signed_in(client, session, role="CLAIMS_PROCESSOR")
    response = await client.get(
        CLAIMS, params={"member_number": w.member.member_number}, headers=headers
    )
    assert response.status_code == 200, response.text
    (item,) = response.json()["items"]
    assert item == {
        "id": str(outcome.claim_id),
        "claim_number": outcome.claim_number,
        "member_number": w.member.member_number,
        "member_name": "Siti Rahma",
        "provider_code": w.provider.provider_code,
        "provider_name": "RS Medika Jakarta",
        "claim_type": "cashless",
        "service_type": "outpatient",
        "service_date": "2025-03-10",
        "admission_date": None,
        "discharge_date": None,
        "status": "approved",
        "total_charged_amount": "1000000.00",
        "total_approved_amount": "900000.00",
        "total_paid_amount": "315000.00",
        "member_responsibility": "685000.00",
        "submission_date": item["submission_date"],
    }
    # The same row as the view has it.
    row = (
        await session.execute(
            select(claim_summary_view).where(claim_summary_view.c.id == outcome.claim_id)
        )
    ).one()
    assert (row.member_name, row.provider_name, str(row.total_paid_amount)) == (
        item["member_name"],
        item["provider_name"],
        item["total_paid_amount"],
    )
    # The detail keeps its own shape (no names): the list item only extends it.
    detail = (await client.get(f"{CLAIMS}/{outcome.claim_id}", headers=headers)).json()
    assert "member_name" not in detail
    assert {k: v for k, v in item.items() if k not in ("member_name", "provider_name")} == {
        k: v for k, v in detail.items() if k != "items"
    }
    # Filters on the view's columns and the provider still narrow the list.
    for params, expected in (
        ({"provider_code": w.provider.provider_code, "status": "approved"}, 1),
        ({"provider_code": w.provider.provider_code, "status": "denied"}, 0),
        ({"member_number": w.member.member_number, "service_date_from": "2025-03-11"}, 0),
        ({"member_number": w.member.member_number, "service_date_to": "2025-03-10"}, 1),
        ({"member_number": "MBR-NOPE"}, 0),
    ):
        response = await client.get(CLAIMS, params=params, headers=headers)
        assert len(response.json()["items"]) == expected, params


async def test_claim_list_filters_the_lifecycle_statuses(
    client: AsyncClient, session: AsyncSession
) -> None:
    _, headers = await signed_in(client, session, role="CLAIMS_PROCESSOR")
    for status in ("payment_pending", "closed", "appealed", "voided"):
        response = await client.get(CLAIMS, params={"status": status}, headers=headers)
        assert response.status_code == 200, response.text


async def _numbers(client: AsyncClient, headers: dict[str, str], **params: Any) -> list[str]:
    numbers: list[str] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await client.get(MEMBERS, params=query, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        numbers += [m["member_number"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return numbers


async def test_active_members_from_the_view(client: AsyncClient, session: AsyncSession) -> None:
    w = await build_world(session)  # w.member: active, covered from 2020, open-ended
    twice = await add_member(session, first_name="Dua")
    await cover(session, twice, w.policy, w.plan)
    await cover(session, twice, w.policy, w.plan, (date(2021, 1, 1), None))
    ended = await add_member(session, first_name="Lama")
    await cover(session, ended, w.policy, w.plan, (date(2020, 1, 1), date(2021, 12, 31)))
    future = await add_member(session, first_name="Nanti")
    await cover(session, future, w.policy, w.plan, (date.today() + timedelta(days=30), None))
    suspended = await add_member(session, first_name="Tunda", status="suspended")
    await cover(session, suspended, w.policy, w.plan)
    coverage_off = await add_member(session, first_name="Putus")
    await cover(session, coverage_off, w.policy, w.plan)
    await session.execute(
        update(MemberCoverage)
        .where(MemberCoverage.member_id == coverage_off.id)
        .values(status="terminated")
    )
    uncovered = await add_member(session, first_name="Kosong")
    await session.commit()
    _, headers = await signed_in(client, session, role="CLAIMS_PROCESSOR")

    active = await _numbers(client, headers, active="true")
    assert active == sorted([w.member.member_number, twice.member_number])  # once each
    others = await _numbers(client, headers, active="false")
    assert others == sorted(
        m.member_number for m in (ended, future, suspended, coverage_off, uncovered)
    )
    everyone = await _numbers(client, headers)
    assert everyone == sorted(active + others)
    listed = set(
        (
            await session.scalars(
                select(Member.member_number).join(
                    active_members_view, active_members_view.c.id == Member.id
                )
            )
        ).all()
    )
    assert listed == set(active)
    response = await client.get(MEMBERS, params={"active": "maybe"}, headers=headers)
    assert response.status_code == 422


async def test_active_members_hold_the_jakarta_date_whatever_the_sessions_time_zone(
    session: AsyncSession,
) -> None:
    # Coverages of exactly one day: today in Jakarta, the day before, the day after. Two
    # session time zones 26 hours apart never share a date, so a view comparing with
    # CURRENT_DATE (the session's date, as the seed's did) cannot list "today" under both.
    w = await build_world(session)
    jakarta_today = datetime.now(ZoneInfo("Asia/Jakarta")).date()
    members = {}
    for name, day in (
        ("Hari", jakarta_today),
        ("Kemarin", jakarta_today - timedelta(days=1)),
        ("Besok", jakarta_today + timedelta(days=1)),
    ):
        members[name] = await add_member(session, first_name=name)
        await cover(session, members[name], w.policy, w.plan, (day, day))
    await session.flush()
    ids = [m.id for m in members.values()]
    for zone in ("Etc/GMT+12", "Etc/GMT-14", "UTC", "Asia/Jakarta"):
        await session.execute(text(f"SET LOCAL TimeZone = '{zone}'"))
        listed = await session.scalars(
            select(active_members_view.c.member_number).where(active_members_view.c.id.in_(ids))
        )
        assert list(listed) == [members["Hari"].member_number], zone
