"""Health configuration and the actions added to the back office (issue 8 items 2 and 5):
plans with benefits and exclusions, claim actions (void, appeal, appeal decision, close,
document upload), payment actions and the dashboards. Through the app (httpx): status,
content, rows written and not written, amounts to the satang."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from httpx import AsyncClient
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.health.adjudication import decide_pended_claim
from polis.health.models import Exclusion, Plan, PlanBenefit
from polis.motor.quotes import today_bangkok
from polis.web import i18n
from tests.health.test_adjudication_service import build_world
from tests.health.test_documents_api import (  # noqa: F401 - fixtures
    app_client,
    documents_dir,
    pdf_bytes,
    png_bytes,
)
from tests.iam.factories import totp_code
from tests.motor.claim_factory import active_policy, class1_quote
from tests.motor.test_claim_settlements_api import (
    approved_claim,
    paid,
    payee,
    settle,
)
from tests.motor.test_claim_settlements_api import staff as staff
from tests.web.helpers import csrf, decided_claim, make_user, pended_claim, sign_in
from tests.web.helpers import staff as web_staff


async def admin(client: AsyncClient, session: AsyncSession) -> None:
    """An ADMIN (health.config:write is theirs alone) signed in with the password and the
    TOTP second step their role requires."""
    user = await make_user(session, "ADMIN", totp=True)
    first = await sign_in(client, user.username)
    assert first.status_code == 200 and 'name="code"' in first.text, first.text
    second = await client.post(
        "/web/sign-in/code",
        data={"code": totp_code(user.username), "csrf_token": csrf(first), "next": "/web/"},
    )
    assert second.status_code == 303, second.text


def plan_form(token: str, code: str = "WEB-PLAN-1", **changes: str) -> dict[str, str]:
    form = {
        "csrf_token": token,
        "plan_code": code,
        "plan_name": "Web Standard",
        "plan_type": "standard",
        "effective_date": "2026-01-01",
        "termination_date": "",
        "annual_limit": "150,000,000.50",
        "lifetime_limit": "",
        "individual_deductible": "250000",
        "family_deductible": "0",
        "individual_oop_max": "",
        "family_oop_max": "",
        "benefits-0-benefit_code": "OP-GP",
        "benefits-0-benefit_name": "GP visit",
        "benefits-0-benefit_category": "outpatient",
        "benefits-0-coverage_type": "covered",
        "benefits-0-limit_type": "per_year",
        "benefits-0-limit_amount": "2,000,000.25",
        "benefits-0-coinsurance_percentage": "10",
        "benefits-0-copay_amount": "50000",
        "benefits-0-waiting_period_days": "0",
        "benefits-0-in_network_covered": "on",
        "benefits-1-benefit_code": "",
        "benefits-1-benefit_name": "",
        "benefits-1-benefit_category": "",
        "benefits-1-coverage_type": "covered",
        "benefits-2-benefit_code": "IP-ROOM",
        "benefits-2-benefit_name": "Room",
        "benefits-2-benefit_category": "inpatient",
        "benefits-2-coverage_type": "limited",
        "benefits-2-limit_type": "per_day",
        "benefits-2-limit_amount": "750000",
        "benefits-2-limit_days": "30",
        "benefits-2-requires_authorization": "on",
        "exclusions-0-exclusion_code": "EX-COSM",
        "exclusions-0-exclusion_description": "Cosmetic surgery",
        "exclusions-0-exclusion_type": "procedure",
        "exclusions-1-exclusion_code": "",
        "exclusions-1-exclusion_description": "",
    }
    form.update(changes)
    return form


async def _plan_rows(session: AsyncSession, code: str) -> tuple[int, int, int]:
    plans = await session.scalar(select(func.count()).where(Plan.plan_code == code))
    benefits = await session.scalar(
        select(func.count()).select_from(PlanBenefit).join(Plan).where(Plan.plan_code == code)
    )
    exclusions = await session.scalar(
        select(func.count()).select_from(Exclusion).join(Plan).where(Plan.plan_code == code)
    )
    return int(plans or 0), int(benefits or 0), int(exclusions or 0)


class TestPlans:
    async def test_create_a_plan_with_benefits_and_exclusions(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await admin(client, session)
        form = await client.get("/web/health/plans/new")
        assert form.status_code == 200 and 'name="benefits-2-benefit_code"' in form.text
        created = await client.post("/web/health/plans", data=plan_form(csrf(form)))
        assert created.status_code == 303, created.text
        assert created.headers["location"] == "/web/health/plans/WEB-PLAN-1"
        assert await _plan_rows(session, "WEB-PLAN-1") == (1, 2, 1)
        plan = await session.scalar(select(Plan).where(Plan.plan_code == "WEB-PLAN-1"))
        assert plan is not None and plan.annual_limit == Decimal("150000000.50")
        room = await session.scalar(
            select(PlanBenefit).where(
                PlanBenefit.plan_id == plan.id, PlanBenefit.benefit_code == "IP-ROOM"
            )
        )
        assert room is not None and room.limit_amount == Decimal("750000.00")
        assert room.requires_authorization is True and room.in_network_covered is False
        page = await client.get("/web/health/plans/WEB-PLAN-1")
        assert page.status_code == 200
        assert "The plan has been created." in page.text
        assert "IDR 150,000,000.50" in page.text and "IDR 2,000,000.25" in page.text
        assert "Cosmetic surgery" in page.text and "Pre-authorisation required" in page.text
        listing = await client.get("/web/health/plans")
        assert 'href="/web/health/plans/WEB-PLAN-1"' in listing.text

    async def test_refusals_are_next_to_their_field_and_nothing_is_written(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await admin(client, session)
        token = csrf(await client.get("/web/health/plans/new"))
        refused = await client.post(
            "/web/health/plans",
            data=plan_form(
                token,
                "WEB-PLAN-2",
                plan_name="",
                termination_date="2025-01-01",
                **{
                    "benefits-2-limit_amount": "lots",
                    "benefits-2-coinsurance_percentage": "150",
                },
            ),
        )
        assert refused.status_code == 422
        assert 'id="plan_name-error"' in refused.text
        # A row error names the form's row (2), not the second non-blank row (1).
        assert 'id="benefits-2-limit_amount-error"' in refused.text
        assert 'id="benefits-2-coinsurance_percentage-error"' in refused.text
        assert 'value="lots"' in refused.text  # what was typed is shown again
        assert await _plan_rows(session, "WEB-PLAN-2") == (0, 0, 0)
        period = await client.post(
            "/web/health/plans", data=plan_form(token, "WEB-PLAN-2", termination_date="2025-01-01")
        )
        assert period.status_code == 422 and 'id="termination_date-error"' in period.text
        twice = await client.post(
            "/web/health/plans",
            data=plan_form(token, "WEB-PLAN-2", **{"benefits-2-benefit_code": "OP-GP"}),
        )
        assert twice.status_code == 422 and 'id="benefits-error"' in twice.text
        assert "OP-GP" in twice.text
        assert await _plan_rows(session, "WEB-PLAN-2") == (0, 0, 0)

    async def test_a_taken_code_is_refused_next_to_it(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        world = await build_world(session)
        await session.commit()
        await admin(client, session)
        token = csrf(await client.get("/web/health/plans/new"))
        taken = await client.post("/web/health/plans", data=plan_form(token, world.plan.plan_code))
        assert taken.status_code == 422 and 'id="plan_code-error"' in taken.text
        assert "already exists" in taken.text
        assert (await _plan_rows(session, world.plan.plan_code))[1] == 3  # benefits unchanged

    async def test_edit_a_plan_as_patch_does(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        world = await build_world(session)
        await session.commit()
        code = world.plan.plan_code
        await admin(client, session)
        form = await client.get(f"/web/health/plans/{code}/edit")
        assert form.status_code == 200 and 'value="Gold"' in form.text
        values = {
            "csrf_token": csrf(form),
            "plan_name": "Gold Plus",
            "plan_type": "premium",
            "effective_date": "2020-01-01",
            "termination_date": "",
            "annual_limit": "120000000.75",
            "lifetime_limit": "",
            "individual_deductible": "500000",
            "family_deductible": "0",
            "individual_oop_max": "",
            "family_oop_max": "",
        }
        bad = await client.post(
            f"/web/health/plans/{code}/edit", data={**values, "plan_type": "gold"}
        )
        assert bad.status_code == 422 and 'id="plan_type-error"' in bad.text
        period = await client.post(
            f"/web/health/plans/{code}/edit", data={**values, "termination_date": "2019-12-31"}
        )
        assert period.status_code == 422 and 'id="termination_date-error"' in period.text
        await session.refresh(world.plan)
        assert world.plan.plan_name == "Gold"
        saved = await client.post(f"/web/health/plans/{code}/edit", data=values)
        assert saved.status_code == 303
        await session.refresh(world.plan)
        assert world.plan.plan_name == "Gold Plus"
        assert world.plan.annual_limit == Decimal("120000000.75")

    async def test_readers_see_plans_but_may_not_change_them(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        world = await build_world(session)
        await session.commit()
        await web_staff(client, session, "CLAIMS_PROCESSOR")
        page = await client.get(f"/web/health/plans/{world.plan.plan_code}")
        assert page.status_code == 200 and "OP-GP" in page.text
        assert "Change the plan" not in page.text
        assert (await client.get("/web/health/plans/new")).status_code == 403
        assert (
            await client.get(f"/web/health/plans/{world.plan.plan_code}/edit")
        ).status_code == 403
        refused = await client.post("/web/health/plans", data=plan_form(csrf(page), "WEB-X"))
        assert refused.status_code == 403
        assert await _plan_rows(session, "WEB-X") == (0, 0, 0)
        assert (await client.get("/web/health/plans/NO-SUCH")).status_code == 404

    async def test_finance_has_no_plan_pages(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await web_staff(client, session, "FINANCE")
        assert (await client.get("/web/health/plans")).status_code == 403
        assert 'href="/web/health/plans"' not in (await client.get("/web/")).text


async def _status(session: AsyncSession, claim_id: str) -> str:
    found = await session.scalar(
        text("select status from claims.claim where id = :c"), {"c": claim_id}
    )
    return str(found)


class TestClaimActions:
    async def test_void_needs_a_reason_then_voids(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        pended = await pended_claim(session)
        await web_staff(client, session, "CLAIMS_PROCESSOR")
        page = await client.get(f"/web/health/claims/{pended.claim_id}")
        assert 'action="/web/health/claims/' + pended.claim_id + '/void"' in page.text
        assert "/close" not in page.text  # a pended claim cannot be closed
        url = f"/web/health/claims/{pended.claim_id}/void"
        empty = await client.post(url, data={"reason": " ", "csrf_token": csrf(page)})
        assert empty.status_code == 422 and 'id="void-reason-error"' in empty.text
        assert await _status(session, pended.claim_id) == "pended"
        done = await client.post(url, data={"reason": "Duplicate", "csrf_token": csrf(page)})
        assert done.status_code == 303
        assert await _status(session, pended.claim_id) == "voided"
        after = await client.get(f"/web/health/claims/{pended.claim_id}")
        assert "The claim has been voided." in after.text
        assert 'action="/web/health/claims/' + pended.claim_id + '/void"' not in after.text
        again = await client.post(url, data={"reason": "Again", "csrf_token": csrf(page)})
        assert again.status_code == 422 and 'id="void-form-error"' in again.text
        assert "no longer allows" in again.text

    async def test_appeal_rejected_then_upheld_opens_the_replacement(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        pended = await pended_claim(session)
        approved = await decided_claim(session, pended.world)
        await web_staff(client, session, "CLAIMS_PROCESSOR")
        page = await client.get(f"/web/health/claims/{approved}")
        token = csrf(page)
        assert "Record the appeal" in page.text and "Save the appeal decision" not in page.text
        url = f"/web/health/claims/{approved}/appeal"
        missing = await client.post(url, data={"reason": "", "csrf_token": token})
        assert missing.status_code == 422 and 'id="appeal-reason-error"' in missing.text
        assert (
            await client.post(url, data={"reason": "Copay", "csrf_token": token})
        ).status_code == 303
        assert await _status(session, approved) == "appealed"
        decision = f"/web/health/claims/{approved}/appeal/decision"
        none = await client.post(decision, data={"notes": "x", "csrf_token": token})
        assert none.status_code == 422 and 'id="appeal_decision-decision-error"' in none.text
        rejected = await client.post(
            decision, data={"decision": "rejected", "notes": "Stands", "csrf_token": token}
        )
        assert rejected.status_code == 303
        assert await _status(session, approved) == "approved"
        await client.post(url, data={"reason": "Again", "csrf_token": token})
        upheld = await client.post(
            decision, data={"decision": "upheld", "notes": "", "csrf_token": token}
        )
        assert upheld.status_code == 303
        replacement = upheld.headers["location"].rsplit("/", 1)[1]
        assert replacement != approved
        assert await _status(session, approved) == "voided"
        assert await _status(session, replacement) in ("approved", "partially_approved")

    async def test_close_a_denied_claim(self, client: AsyncClient, session: AsyncSession) -> None:
        pended = await pended_claim(session)
        await decide_pended_claim(session, pended.claim_id, "denied", "No", "tester")
        await session.commit()
        await web_staff(client, session, "CLAIMS_PROCESSOR")
        page = await client.get(f"/web/health/claims/{pended.claim_id}")
        assert "Close the claim" in page.text
        done = await client.post(
            f"/web/health/claims/{pended.claim_id}/close", data={"csrf_token": csrf(page)}
        )
        assert done.status_code == 303
        assert await _status(session, pended.claim_id) == "closed"

    async def test_auditor_sees_no_action_and_is_refused(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        pended = await pended_claim(session)
        await web_staff(client, session, "AUDITOR")
        page = await client.get(f"/web/health/claims/{pended.claim_id}")
        assert page.status_code == 200
        for words in ("Void the claim", "Attach the document", "Close the claim"):
            assert words not in page.text
        token = csrf(page)
        for action in ("void", "appeal", "close", "appeal/decision", "documents"):
            response = await client.post(
                f"/web/health/claims/{pended.claim_id}/{action}",
                data={"reason": "x", "decision": "upheld", "csrf_token": token},
            )
            assert response.status_code == 403, action
        assert await _status(session, pended.claim_id) == "pended"

    async def test_actions_without_csrf_are_refused(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        pended = await pended_claim(session)
        await web_staff(client, session, "CLAIMS_PROCESSOR")
        response = await client.post(
            f"/web/health/claims/{pended.claim_id}/void", data={"reason": "x"}
        )
        assert response.status_code == 403
        assert await _status(session, pended.claim_id) == "pended"


class TestDocumentUpload:
    async def test_upload_checks_the_file_as_the_api_does(
        self,
        app_client: tuple[object, AsyncClient],  # noqa: F811 - the fixture
        session: AsyncSession,
    ) -> None:
        _app, client = app_client
        pended = await pended_claim(session)
        await web_staff(client, session, "CLAIMS_PROCESSOR")
        page = await client.get(f"/web/health/claims/{pended.claim_id}")
        assert 'enctype="multipart/form-data"' in page.text
        url = f"/web/health/claims/{pended.claim_id}/documents"
        token = csrf(page)

        async def count() -> int:
            return int(
                await session.scalar(
                    text("select count(*) from claims.claim_document where claim_id = :c"),
                    {"c": pended.claim_id},
                )
                or 0
            )

        no_type = await client.post(
            url,
            data={"csrf_token": token},
            files={"file": ("invoice.pdf", pdf_bytes(), "application/pdf")},
        )
        assert no_type.status_code == 422
        assert 'id="document-document_type-error"' in no_type.text
        mismatch = await client.post(
            url,
            data={"csrf_token": token, "document_type": "invoice"},
            files={"file": ("invoice.pdf", png_bytes(), "application/pdf")},
        )
        assert mismatch.status_code == 422 and 'id="document-file-error"' in mismatch.text
        assert "does not match" in mismatch.text
        empty = await client.post(
            url,
            data={"csrf_token": token, "document_type": "invoice"},
            files={"file": ("invoice.pdf", b"", "application/pdf")},
        )
        assert empty.status_code == 422 and "The file is empty." in empty.text
        assert await count() == 0
        data = pdf_bytes()
        done = await client.post(
            url,
            data={"csrf_token": token, "document_type": "invoice"},
            files={"file": ("invoice.pdf", data, "application/pdf")},
        )
        assert done.status_code == 303, done.text
        assert await count() == 1
        after = await client.get(f"/web/health/claims/{pended.claim_id}")
        assert "The document has been attached." in after.text and "invoice.pdf" in after.text
        link = after.text.split(f"/web/health/claims/{pended.claim_id}/documents/")[1]
        download = await client.get(
            f"/web/health/claims/{pended.claim_id}/documents/{link.split(chr(34))[0]}"
        )
        assert download.status_code == 200 and download.content == data


async def _payment(session: AsyncSession, claim_id: str) -> tuple[str, str]:
    row = (
        await session.execute(
            text(
                "select payment_number, payment_status from billing.payment"
                " where claim_id = :c order by created_at desc limit 1"
            ),
            {"c": claim_id},
        )
    ).one()
    return str(row[0]), str(row[1])


class TestPaymentActions:
    async def _run(self, client: AsyncClient, session: AsyncSession) -> tuple[str, str]:
        pended = await pended_claim(session)
        approved = await decided_claim(session, pended.world)
        await web_staff(client, session, "FINANCE")
        runs = await client.get("/web/health/payments")
        await client.post("/web/health/payments/runs", data={"csrf_token": csrf(runs)})
        number, status = await _payment(session, approved)
        assert status == "pending"
        return approved, number

    async def test_sent_then_paid(self, client: AsyncClient, session: AsyncSession) -> None:
        claim_id, number = await self._run(client, session)
        listing = await client.get("/web/health/payments")
        assert f'href="/web/health/payments/{number}"' in listing.text
        page = await client.get(f"/web/health/payments/{number}")
        assert page.status_code == 200 and "Mark as sent" in page.text
        assert "Mark as paid" not in page.text
        token = csrf(page)
        blank = await client.post(
            f"/web/health/payments/{number}/sent",
            data={"reference_number": "", "csrf_token": token},
        )
        assert blank.status_code == 422 and 'id="sent-reference_number-error"' in blank.text
        assert (await _payment(session, claim_id))[1] == "pending"
        sent = await client.post(
            f"/web/health/payments/{number}/sent",
            data={"reference_number": "BCA-778899", "csrf_token": token},
        )
        assert sent.status_code == 303
        assert (await _payment(session, claim_id))[1] == "sent"
        future = await client.post(
            f"/web/health/payments/{number}/paid",
            data={"payment_date": "2999-01-01", "csrf_token": token},
        )
        assert future.status_code == 422 and 'id="paid-payment_date-error"' in future.text
        assert "must not be in the future" in future.text
        paid = await client.post(
            f"/web/health/payments/{number}/paid", data={"payment_date": "", "csrf_token": token}
        )
        assert paid.status_code == 303
        assert (await _payment(session, claim_id))[1] == "paid"
        assert await _status(session, claim_id) == "paid"
        after = await client.get(f"/web/health/payments/{number}")
        assert "BCA-778899" in after.text and "The payment has been updated." in after.text
        again = await client.post(
            f"/web/health/payments/{number}/cancel", data={"reason": "", "csrf_token": token}
        )
        assert again.status_code == 422 and 'id="cancel-form-error"' in again.text

    async def test_sent_then_failed_returns_the_claim(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        claim_id, number = await self._run(client, session)
        token = csrf(await client.get(f"/web/health/payments/{number}"))
        await client.post(
            f"/web/health/payments/{number}/sent",
            data={"reference_number": "REF-1", "csrf_token": token},
        )
        no_reason = await client.post(
            f"/web/health/payments/{number}/failed", data={"reason": "", "csrf_token": token}
        )
        assert no_reason.status_code == 422 and 'id="failed-reason-error"' in no_reason.text
        failed = await client.post(
            f"/web/health/payments/{number}/failed",
            data={"reason": "Account closed", "csrf_token": token},
        )
        assert failed.status_code == 303
        assert (await _payment(session, claim_id))[1] == "failed"
        assert await _status(session, claim_id) == "approved"

    async def test_cancel_a_pending_payment(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        claim_id, number = await self._run(client, session)
        token = csrf(await client.get(f"/web/health/payments/{number}"))
        done = await client.post(
            f"/web/health/payments/{number}/cancel", data={"reason": "", "csrf_token": token}
        )
        assert done.status_code == 303
        assert (await _payment(session, claim_id))[1] == "cancelled"
        assert await _status(session, claim_id) == "approved"

    async def test_readers_may_not_move_payments(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        pended = await pended_claim(session)
        approved = await decided_claim(session, pended.world)
        from polis.health import payments as payment_service

        await payment_service.create_payment_run(session, user="tester")
        await session.commit()
        number, _status_now = await _payment(session, approved)
        await web_staff(client, session, "AUDITOR")
        page = await client.get(f"/web/health/payments/{number}")
        assert page.status_code == 200 and "Mark as sent" not in page.text
        refused = await client.post(
            f"/web/health/payments/{number}/sent",
            data={"reference_number": "X", "csrf_token": csrf(page)},
        )
        assert refused.status_code == 403
        assert (await _payment(session, approved))[1] == "pending"
        assert (await client.get("/web/health/payments/PAY-NONE")).status_code == 404


class TestDashboards:
    async def test_health_loss_ratio_is_paid_claims_over_contributions(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        from polis.health import payments as payment_service

        pended = await pended_claim(session)
        approved = await decided_claim(session, pended.world)
        await payment_service.create_payment_run(session, user="tester")
        number, _ = await _payment(session, approved)
        await payment_service.mark_sent(session, number, reference_number="R-1", user="t")
        await payment_service.mark_paid(
            session, number, payment_date=payment_service.jakarta_today(), user="t"
        )
        policy = pended.world.policy
        policy.total_premium = Decimal("1260000.00")
        await session.commit()
        paid = await session.scalar(
            text("select total_paid_amount from claims.claim where id = :c"), {"c": approved}
        )
        assert paid == Decimal("315000.00")
        await web_staff(client, session, "AUDITOR")
        page = await client.get("/web/dashboard/loss-ratio")
        assert page.status_code == 200
        row = page.text.split(f'<th scope="row">{policy.policy_number}</th>')[1]
        row = row.split("</tr>")[0]
        assert "IDR 1,260,000.00" in row and "IDR 315,000.00" in row
        assert "25.0 %" in row  # 315,000 / 1,260,000
        assert 'id="health-method"' in page.text and "<svg" in page.text
        assert 'id="motor-table"' in page.text  # AUDITOR reads motor claims and payments

    async def test_motor_halves_follow_the_permissions(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await web_staff(client, session, "CLAIMS_PROCESSOR")  # health only
        page = await client.get("/web/dashboard/loss-ratio")
        assert page.status_code == 200
        assert 'id="motor-table"' not in page.text
        assert 'id="health-table"' in page.text
        assert (await client.get("/web/dashboard/premiums")).status_code == 403

    async def test_fund_balances_mark_low_funds(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        world = await build_world(
            session, funding="aso", aso=Decimal("1000000.00"), buffer=Decimal("60000000.00")
        )
        await session.commit()
        number = world.policy.policy_number
        await web_staff(client, session, "FINANCE")
        page = await client.get("/web/dashboard/funds")
        assert page.status_code == 200
        row = page.text.split(f'id="fund-{number}"')[1].split("</tr>")[0]
        assert "IDR 1,000,000.00" in row and "IDR 60,000,000.00" in row
        assert row.count(">Low<") == 1  # the ASO fund, not the buffer
        assert f'class="status-pended low" id="fund-{number}"' in page.text
        assert "<svg" in page.text and 'id="funds-table"' in page.text
        higher = await client.get("/web/dashboard/funds?below=70000000")
        row = higher.text.split(f'id="fund-{number}"')[1].split("</tr>")[0]
        assert row.count(">Low<") == 2
        lower = await client.get("/web/dashboard/funds?below=500000")
        row = lower.text.split(f'id="fund-{number}"')[1].split("</tr>")[0]
        assert ">Low<" not in row
        bad = await client.get("/web/dashboard/funds?below=lots")
        assert bad.status_code == 422 and 'id="below-error"' in bad.text

    async def test_fund_balances_need_policies_read(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await web_staff(client, session, "SURVEYOR")
        assert (await client.get("/web/dashboard/funds")).status_code == 403
        assert (await client.get("/web/dashboard/loss-ratio")).status_code == 403
        index = await client.get("/web/dashboard")  # motor.policies:read: premiums only
        assert index.status_code == 200 and "<svg" not in index.text
        assert 'href="/web/dashboard/premiums"' in index.text
        assert 'href="/web/dashboard/funds"' not in index.text
        assert 'href="/web/dashboard/loss-ratio"' not in index.text


class TestMotorDashboards:
    async def test_premiums_written_and_motor_loss_ratio(
        self,
        client: AsyncClient,
        session: AsyncSession,
        staff: dict[str, Any],
    ) -> None:
        policy = await active_policy(client, staff["admin"], **class1_quote())
        premium = Decimal(policy["total_premium"])
        claim = await approved_claim(session, policy, "30000.00")
        await session.commit()
        settled = await settle(client, staff["adjuster"], claim.id, payee("30000.00"))
        assert settled.status_code in (200, 201), settled.text
        sid = settled.json()["settlements"][0]["id"]
        done = await paid(client, staff["finance"], claim.id, sid, "KBANK-OUT-9")
        assert done.status_code == 200, done.text
        await web_staff(client, session, "AUDITOR")
        month = i18n.month_name(*_this_month())
        written = await client.get("/web/dashboard/premiums")
        assert written.status_code == 200 and "<svg" in written.text
        row = written.text.split(f'<th scope="row">{month}</th>')[1].split("</tr>")[0]
        assert ">1<" in row and f"THB {premium:,.2f}" in row
        ratio = await client.get("/web/dashboard/loss-ratio")
        table = ratio.text.split('id="motor-table"')[1]
        row = table.split(f'<th scope="row">{month}</th>')[1].split("</tr>")[0]
        assert f"THB {premium:,.2f}" in row and "THB 28,000.00" in row
        expected = (Decimal("28000.00") / premium * 100).quantize(Decimal("0.1"))
        assert f"{expected} %" in row


def _this_month() -> tuple[int, int]:
    today: date = today_bangkok()
    return today.year, today.month
