"""The plan page's benefit and exclusion forms (decision 0069): change, add and remove one at
a time as the API routes do; refusals next to their field with nothing written; a benefit in
use is not removed and the page says to deactivate it; readers get no forms."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from httpx import AsyncClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.health.adjudication import submit_claim
from polis.health.models import Exclusion, PlanBenefit
from tests.health.test_adjudication_service import ClaimWorld, build_world, request
from tests.web.helpers import csrf
from tests.web.helpers import staff as web_staff
from tests.web.test_health_more import admin


async def _world(session: AsyncSession) -> ClaimWorld:
    w = await build_world(session)
    await session.commit()
    return w


async def _benefit(session: AsyncSession, w: ClaimWorld, code: str) -> PlanBenefit | None:
    return await session.scalar(
        select(PlanBenefit)
        .where(PlanBenefit.plan_id == w.plan.id, PlanBenefit.benefit_code == code)
        .execution_options(populate_existing=True)
    )


async def _exclusions(session: AsyncSession, w: ClaimWorld) -> list[Exclusion]:
    rows = await session.scalars(
        select(Exclusion)
        .where(Exclusion.plan_id == w.plan.id)
        .order_by(Exclusion.exclusion_code)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def _audited(session: AsyncSession, table: str) -> int:
    found = await session.scalar(
        text("select count(*) from audit.audit_log where table_name = :t"), {"t": table}
    )
    return int(found or 0)


def _benefit_form(token: str, **changes: str) -> dict[str, str]:
    form = {
        "csrf_token": token,
        "benefit_name": "GP visit",
        "benefit_category": "outpatient",
        "coverage_type": "covered",
        "limit_type": "per_year",
        "limit_amount": "3,000,000.50",
        "limit_days": "",
        "limit_visits": "12",
        "coinsurance_percentage": "5",
        "copay_amount": "0",
        "waiting_period_days": "30",
        "in_network_covered": "on",
    }
    form.update(changes)
    return form


def _exclusion_form(token: str, **changes: str) -> dict[str, str]:
    form = {
        "csrf_token": token,
        "exclusion_code": "EX-URI",
        "exclusion_description": "Upper respiratory infections",
        "exclusion_type": "diagnosis",
        "icd_code": "J06",
        "effective_date": "2025-01-01",
        "termination_date": "",
    }
    form.update(changes)
    return form


class TestBenefitForms:
    async def test_change_a_benefit_to_the_rupiah(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        await admin(client, session)
        base = f"/web/health/plans/{w.plan.plan_code}"
        page = await client.get(base)
        assert page.status_code == 200
        assert f'href="{base}/benefits/OP-GP/edit"' in page.text
        assert f'action="{base}/benefits/OP-GP/delete"' in page.text
        assert f'href="{base}/benefits/new"' in page.text
        assert f'href="{base}/exclusions/new"' in page.text
        form = await client.get(f"{base}/benefits/OP-GP/edit")
        assert form.status_code == 200
        assert 'value="2000000.00"' in form.text and 'name="benefit_code"' not in form.text
        saved = await client.post(f"{base}/benefits/OP-GP/edit", data=_benefit_form(csrf(form)))
        assert saved.status_code == 303, saved.text
        assert saved.headers["location"] == base
        benefit = await _benefit(session, w, "OP-GP")
        assert benefit is not None
        assert benefit.limit_amount == Decimal("3000000.50")
        assert (benefit.limit_visits, benefit.waiting_period_days) == (12, 30)
        assert benefit.coinsurance_percentage == Decimal("5.00")
        assert benefit.copay_amount == Decimal("0.00")
        assert benefit.requires_authorization is False and benefit.out_network_covered is False
        shown = await client.get(base)
        assert "The plan has been saved." in shown.text and "IDR 3,000,000.50" in shown.text
        # The next claim uses the new values: 1,000,000 less 10% = 900,000; deductible
        # 500,000; no copay; coinsurance 5% of 400,000 = 20,000: the plan pays 380,000.
        outcome = await submit_claim(session, request(w))
        assert outcome.result.totals.paid == Decimal("380000.00")

    async def test_refusals_are_next_to_their_field_and_nothing_is_written(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        await admin(client, session)
        base = f"/web/health/plans/{w.plan.plan_code}"
        token = csrf(await client.get(f"{base}/benefits/OP-GP/edit"))
        audited = await _audited(session, "benefit.plan_benefit")
        refused = await client.post(
            f"{base}/benefits/OP-GP/edit",
            data=_benefit_form(
                token,
                limit_amount="-5",
                coinsurance_percentage="150",
                limit_type="per_century",
                benefit_name="",
            ),
        )
        assert refused.status_code == 422
        for name in ("limit_amount", "coinsurance_percentage", "limit_type", "benefit_name"):
            assert f'id="{name}-error"' in refused.text, name
        assert "Must not be negative." in refused.text and "Too large." in refused.text
        assert 'value="-5"' in refused.text  # what was typed is shown again
        assert "Nothing was saved." in refused.text
        benefit = await _benefit(session, w, "OP-GP")
        assert benefit is not None and benefit.limit_amount == Decimal("2000000.00")
        assert benefit.benefit_name == "GP visit"
        assert await _audited(session, "benefit.plan_benefit") == audited

    async def test_add_a_benefit_a_taken_code_refused(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        await admin(client, session)
        base = f"/web/health/plans/{w.plan.plan_code}"
        form = await client.get(f"{base}/benefits/new")
        assert form.status_code == 200 and 'name="benefit_code"' in form.text
        values = _benefit_form(
            csrf(form), benefit_code="OP-GP", benefit_name="Physiotherapy", limit_type=""
        )
        taken = await client.post(f"{base}/benefits", data=values)
        assert taken.status_code == 422
        assert 'id="benefit_code-error"' in taken.text
        assert "This plan already has a benefit with this code." in taken.text
        added = await client.post(f"{base}/benefits", data={**values, "benefit_code": "PHYSIO"})
        assert added.status_code == 303, added.text
        physio = await _benefit(session, w, "PHYSIO")
        assert physio is not None and physio.limit_type is None
        assert physio.limit_amount == Decimal("3000000.50")

    async def test_a_benefit_in_use_stays_and_the_page_says_to_deactivate_it(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        await submit_claim(session, request(w))
        await session.commit()
        await admin(client, session)
        base = f"/web/health/plans/{w.plan.plan_code}"
        token = csrf(await client.get(base))
        refused = await client.post(f"{base}/benefits/OP-GP/delete", data={"csrf_token": token})
        assert refused.status_code == 409
        assert 'id="benefit-OP-GP-error"' in refused.text
        assert "Deactivate it instead" in refused.text
        assert await _benefit(session, w, "OP-GP") is not None
        removed = await client.post(f"{base}/benefits/DENT/delete", data={"csrf_token": token})
        assert removed.status_code == 303
        assert await _benefit(session, w, "DENT") is None
        assert (
            await client.post(f"{base}/benefits/DENT/delete", data={"csrf_token": token})
        ).status_code == 404
        # Deactivate instead.
        off = await client.post(
            f"{base}/benefits/OP-GP/edit",
            data=_benefit_form(token, coverage_type="not_covered", limit_amount="2000000"),
        )
        assert off.status_code == 303
        benefit = await _benefit(session, w, "OP-GP")
        assert benefit is not None and benefit.coverage_type == "not_covered"

    async def test_readers_get_no_forms_and_no_changes(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        await web_staff(client, session, "CLAIMS_PROCESSOR")
        base = f"/web/health/plans/{w.plan.plan_code}"
        page = await client.get(base)
        assert page.status_code == 200 and "OP-GP" in page.text
        assert "Add a benefit" not in page.text and "/benefits/OP-GP/edit" not in page.text
        for path in ("/benefits/new", "/benefits/OP-GP/edit", "/exclusions/new"):
            assert (await client.get(base + path)).status_code == 403, path
        token = csrf(await client.get("/web/"))
        posts: list[tuple[str, dict[str, Any]]] = [
            ("/benefits/OP-GP/edit", _benefit_form(token)),
            ("/benefits/OP-GP/delete", {"csrf_token": token}),
            ("/benefits", _benefit_form(token, benefit_code="NEW")),
            ("/exclusions", _exclusion_form(token)),
        ]
        for path, data in posts:
            assert (await client.post(base + path, data=data)).status_code == 403, path
        benefit = await _benefit(session, w, "OP-GP")
        assert benefit is not None and benefit.limit_amount == Decimal("2000000.00")
        assert await _benefit(session, w, "NEW") is None
        assert await _exclusions(session, w) == []

    async def test_without_the_csrf_token_nothing_changes(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        await admin(client, session)
        base = f"/web/health/plans/{w.plan.plan_code}"
        refused = await client.post(f"{base}/benefits/DENT/delete", data={})
        assert refused.status_code == 403
        edited = await client.post(f"{base}/benefits/OP-GP/edit", data=_benefit_form("forged"))
        assert edited.status_code == 403
        assert await _benefit(session, w, "DENT") is not None
        benefit = await _benefit(session, w, "OP-GP")
        assert benefit is not None and benefit.limit_amount == Decimal("2000000.00")


class TestExclusionForms:
    async def test_add_change_and_remove_an_exclusion(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        await admin(client, session)
        base = f"/web/health/plans/{w.plan.plan_code}"
        form = await client.get(f"{base}/exclusions/new")
        assert form.status_code == 200
        token = csrf(form)
        refused = await client.post(
            f"{base}/exclusions",
            data=_exclusion_form(token, termination_date="2024-12-31", exclusion_type="mood"),
        )
        assert refused.status_code == 422
        assert 'id="exclusion_type-error"' in refused.text
        period = await client.post(
            f"{base}/exclusions", data=_exclusion_form(token, termination_date="2024-12-31")
        )
        assert period.status_code == 422 and 'id="termination_date-error"' in period.text
        assert await _exclusions(session, w) == []
        added = await client.post(f"{base}/exclusions", data=_exclusion_form(token))
        assert added.status_code == 303, added.text
        (exclusion,) = await _exclusions(session, w)
        assert (exclusion.exclusion_code, exclusion.icd_code) == ("EX-URI", "J06")
        page = await client.get(base)
        assert "Upper respiratory infections" in page.text
        at = f"{base}/exclusions/{exclusion.id}"
        assert f'href="{at}/edit"' in page.text
        edit = await client.get(f"{at}/edit")
        assert edit.status_code == 200 and 'value="EX-URI"' in edit.text
        # Ending before its stored start is refused next to the end date (the whole row).
        bad = await client.post(
            f"{at}/edit", data=_exclusion_form(token, termination_date="2024-06-30")
        )
        assert bad.status_code == 422 and 'id="termination_date-error"' in bad.text
        blank = await client.post(f"{at}/edit", data=_exclusion_form(token, exclusion_code=""))
        assert blank.status_code == 422 and 'id="exclusion_code-error"' in blank.text
        (unchanged,) = await _exclusions(session, w)
        assert (unchanged.exclusion_code, unchanged.termination_date) == ("EX-URI", None)
        saved = await client.post(
            f"{at}/edit",
            data=_exclusion_form(
                token, exclusion_code="EX-J06", termination_date="2025-12-31", icd_code=""
            ),
        )
        assert saved.status_code == 303, saved.text
        (changed,) = await _exclusions(session, w)
        assert changed.exclusion_code == "EX-J06" and changed.icd_code is None
        assert str(changed.termination_date) == "2025-12-31"
        assert (await client.get(f"{base}/exclusions/not-an-id/edit")).status_code == 404
        removed = await client.post(f"{at}/delete", data={"csrf_token": token})
        assert removed.status_code == 303
        assert await _exclusions(session, w) == []
