"""The motor back office's claim moves, settlement payments and policy cancellation through
the app (httpx, the test database): assignment, investigation, rejection and closure on the
claim page (claim_endpoints), marking a settlement paid or cancelling it
(claim_settlement_endpoints), cancelling a policy with its short-rate refund
(policy_endpoints). Each move writes what the service writes; a refused one answers 422 with
the refusal next to its field and writes nothing; a role without the permission gets 403."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from httpx import Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.motor import claim_settlements, policy_rules
from polis.motor.claim_settlement_schemas import SettlementCreate
from polis.motor.quotes import today_bangkok
from polis.web.pages.motor import BANGKOK, baht
from tests.motor.claim_factory import insert_claim
from tests.motor.test_claim_settlements_api import approved_claim, payee
from tests.motor.test_claim_workflow import audit_moves
from tests.web.helpers import csrf, make_user, staff
from tests.web.test_motor_pages import (
    Site,
    active_policy_id,
    count,
    error_of,
    site,  # noqa: F401 - fixture
    web_session_of,
)

_VERSION = re.compile(r'name="version" value="(\d+)"')


def page_of(claim_id: Any) -> str:
    return f"/web/motor/claims/{claim_id}"


async def claim_state(session: AsyncSession, claim_id: Any) -> Any:
    return (
        await session.execute(
            text(
                "select status, sub_status, adjuster_id, surveyor_id, version, closure_date"
                " from motor.claims where id = :i"
            ),
            {"i": claim_id},
        )
    ).one()


async def post(on: Site, page: Response, action: str, data: dict[str, str]) -> Response:
    """POST `data` to `action` with the CSRF token (and claim version) of `page`."""
    form = {"csrf_token": csrf(page), **data}
    version = _VERSION.search(page.text)
    if version and "version" not in data:
        form["version"] = version.group(1)
    return await on.client.post(action, data=form)


# --- assignment ------------------------------------------------------------------------------


class TestAssignment:
    async def test_a_reported_claim_is_assigned_to_active_staff_of_those_roles(
        self,
        site: Site,  # noqa: F811 - the fixture
        session: AsyncSession,
    ) -> None:
        _, policy = await active_policy_id(site, session)
        claim = await insert_claim(session, policy["id"])
        adjuster = await make_user(session, "ADJUSTER", first_name="Anan")
        surveyor = await make_user(session, "SURVEYOR", first_name="Suda")
        locked = await make_user(session, "ADJUSTER", account_status="LOCKED")
        agent = await make_user(session, "AGENT")
        me = await web_session_of(site.client, session, "ADJUSTER")
        path = page_of(claim.id)
        page = await site.client.get(path)
        assert page.status_code == 200
        assert 'id="assignment-form"' in page.text
        assert 'id="investigation-form"' in page.text and 'id="rejection-form"' in page.text
        assert 'id="closure-form"' not in page.text  # REPORTED -> CLOSED is not a move
        chooser = page.text.split('id="assignment-form"')[1].split("</section>")[0]
        assert f'value="{adjuster.id}"' in chooser and f'value="{surveyor.id}"' in chooser
        assert f'value="{me}"' in chooser  # the adjuster signed in may take it too
        assert str(locked.id) not in chooser and str(agent.id) not in chooser

        action = f"{path}/assignment"
        nobody = await post(site, page, action, {"adjuster_id": "", "surveyor_id": ""})
        assert nobody.status_code == 422
        assert "give adjuster_id, surveyor_id or both" in error_of(nobody.text, "adjuster_id")
        only_surveyor = await post(
            site, page, action, {"adjuster_id": "", "surveyor_id": str(surveyor.id)}
        )
        assert only_surveyor.status_code == 422
        assert "assigned to an adjuster" in error_of(only_surveyor.text, "adjuster_id")
        wrong_role = await post(site, page, action, {"adjuster_id": str(surveyor.id)})
        assert wrong_role.status_code == 422
        assert "not a ADJUSTER" in error_of(wrong_role.text, "adjuster_id")
        not_active = await post(site, page, action, {"adjuster_id": str(locked.id)})
        assert not_active.status_code == 422
        assert "not ACTIVE" in error_of(not_active.text, "adjuster_id")
        state = await claim_state(session, claim.id)
        assert (state.status, state.adjuster_id, state.surveyor_id) == ("REPORTED", None, None)
        assert await audit_moves(session, claim.id) == []

        done = await post(
            site,
            page,
            action,
            {"adjuster_id": str(adjuster.id), "surveyor_id": str(surveyor.id)},
        )
        assert (done.status_code, done.headers["location"]) == (303, path)
        state = await claim_state(session, claim.id)
        assert (state.status, state.adjuster_id, state.surveyor_id) == (
            "ASSIGNED",
            adjuster.id,
            surveyor.id,
        )
        assert state.version == 1
        assert [m[:3] for m in await audit_moves(session, claim.id)] == [
            ("REPORTED", "ASSIGNED", me)
        ]
        after = await site.client.get(path)
        assert "The claim has been assigned." in after.text
        assert "Anan" in after.text.split('id="claim-adjuster">')[1].split("<")[0]
        assert "Suda" in after.text.split('id="claim-surveyor">')[1].split("<")[0]
        assert "Change the adjuster or surveyor" in after.text

        # The form read before the assignment carries the old version: refused, unchanged.
        stale = await post(site, page, action, {"adjuster_id": str(me)})
        assert stale.status_code == 422
        assert "version" in error_of(stale.text, "adjuster_id")
        assert (await claim_state(session, claim.id)).adjuster_id == adjuster.id


# --- investigation, rejection, closure -------------------------------------------------------


class TestMoves:
    async def test_investigate_reject_close(
        self,
        site: Site,  # noqa: F811 - the fixture
        session: AsyncSession,
    ) -> None:
        _, policy = await active_policy_id(site, session)
        claim = await insert_claim(session, policy["id"], status="ASSIGNED")
        await session.commit()
        me = await web_session_of(site.client, session, "ADJUSTER")
        path = page_of(claim.id)
        page = await site.client.get(path)

        # Investigation: a reason is required, and at most 100 characters.
        missing = await post(site, page, f"{path}/investigation", {"investigation_reason": ""})
        assert missing.status_code == 422
        assert error_of(missing.text, "investigation_reason") == "Required."
        too_long = await post(
            site, page, f"{path}/investigation", {"investigation_reason": "x" * 101}
        )
        assert too_long.status_code == 422
        assert "100" in error_of(too_long.text, "investigation_reason")
        # Closing an open claim is not a move of the table.
        early = await post(site, page, f"{path}/closure", {"closure_notes": "Done"})
        assert early.status_code == 422
        assert "cannot move from ASSIGNED to CLOSED" in error_of(early.text, "closure_notes")
        assert 'id="closure-form"' in early.text  # shown again with its refusal
        assert (await claim_state(session, claim.id)).status == "ASSIGNED"
        assert await audit_moves(session, claim.id) == []

        opened = await post(
            site, page, f"{path}/investigation", {"investigation_reason": "Garage invoice doubtful"}
        )
        assert (opened.status_code, opened.headers["location"]) == (303, path)
        state = await claim_state(session, claim.id)
        assert (state.status, state.sub_status) == ("INVESTIGATING", "INVESTIGATION")
        assert await audit_moves(session, claim.id) == [
            ("ASSIGNED", "INVESTIGATING", me, "Garage invoice doubtful")
        ]
        page = await site.client.get(path)
        assert "The investigation has been opened." in page.text
        assert "Garage invoice doubtful" in page.text  # the history's reason
        assert 'id="investigation-form"' not in page.text and 'id="rejection-form"' in page.text

        # The move again, from a page read before it: refused next to the field.
        again = await post(
            site, page, f"{path}/investigation", {"investigation_reason": "Once more"}
        )
        assert again.status_code == 422
        assert "cannot move from INVESTIGATING to INVESTIGATING" in error_of(
            again.text, "investigation_reason"
        )
        assert len(await audit_moves(session, claim.id)) == 1

        rejected = await post(
            site, page, f"{path}/rejection", {"rejection_reason": "Damage predates the cover"}
        )
        assert rejected.status_code == 303, rejected.text
        assert (await claim_state(session, claim.id)).status == "REJECTED"
        page = await site.client.get(path)
        assert "The claim has been rejected." in page.text
        assert 'id="closure-form"' in page.text and 'id="assignment-form"' not in page.text

        no_notes = await post(site, page, f"{path}/closure", {"closure_notes": "  "})
        assert no_notes.status_code == 422
        assert error_of(no_notes.text, "closure_notes") == "Required."
        closed = await post(site, page, f"{path}/closure", {"closure_notes": "Customer informed"})
        assert closed.status_code == 303, closed.text
        state = await claim_state(session, claim.id)
        assert (state.status, state.closure_date) == ("CLOSED", today_bangkok())
        assert [m[1] for m in await audit_moves(session, claim.id)] == [
            "INVESTIGATING",
            "REJECTED",
            "CLOSED",
        ]
        assert (await audit_moves(session, claim.id))[-1][3] == "Customer informed"
        page = await site.client.get(path)
        assert "The claim has been closed." in page.text
        for form in ("assignment", "investigation", "rejection", "closure"):
            assert f'id="{form}-form"' not in page.text, form

    async def test_moves_need_motor_claims_write(
        self,
        site: Site,  # noqa: F811 - the fixture
        session: AsyncSession,
    ) -> None:
        _, policy = await active_policy_id(site, session)
        claim = await insert_claim(session, policy["id"], status="REJECTED")
        other = await make_user(session, "ADJUSTER")
        await staff(site.client, session, "SURVEYOR")  # motor.claims:read, not :write
        path = page_of(claim.id)
        page = await site.client.get(path)
        assert page.status_code == 200
        for form in ("assignment", "investigation", "rejection", "closure"):
            assert f'id="{form}-form"' not in page.text, form
        for action, data in (
            ("assignment", {"adjuster_id": str(other.id)}),
            ("investigation", {"investigation_reason": "x"}),
            ("rejection", {"rejection_reason": "x"}),
            ("closure", {"closure_notes": "x"}),
        ):
            response = await post(site, page, f"{path}/{action}", data)
            assert response.status_code == 403, action
            assert "You may not open this page" in response.text
        no_csrf = await site.client.post(f"{path}/closure", data={"closure_notes": "x"})
        assert no_csrf.status_code == 403
        assert (await claim_state(session, claim.id)).status == "REJECTED"
        assert await audit_moves(session, claim.id) == []


# --- settlements -----------------------------------------------------------------------------


async def settlement(session: AsyncSession, sid: Any) -> Any:
    return (
        await session.execute(
            text(
                "select s.status, s.net_amount, s.cancellation_reason, s.paid_at,"
                " p.payment_status, p.transaction_reference"
                " from motor.claim_settlements s join motor.payments p on p.id = s.payment_id"
                " where s.id = :i"
            ),
            {"i": sid},
        )
    ).one()


class TestSettlements:
    async def test_mark_paid_and_cancel(
        self,
        site: Site,  # noqa: F811 - the fixture
        session: AsyncSession,
    ) -> None:
        _, policy = await active_policy_id(site, session)
        finance = await staff(site.client, session, "FINANCE")
        claim = await approved_claim(session, policy, "20000.00")
        made = await claim_settlements.create_settlements(
            session,
            claim.id,
            SettlementCreate.model_validate(
                {"payees": [payee("12000.00"), payee("5000.00", payee_name="Somchai Jaidee")]}
            ),
            user_id=finance.id,
        )
        await session.commit()
        first, second = (str(s.id) for s in made.settlements)
        path = page_of(claim.id)
        page = await site.client.get(path)
        for sid in (first, second):
            block = page.text.split(f'id="settlement-{sid}"')[1].split("</article>")[0]
            assert f"/settlements/{sid}/paid" in block and f"/settlements/{sid}/cancel" in block

        # Refusals next to the field of that settlement, nothing written.
        paid_action = f"{path}/settlements/{first}/paid"
        no_ref = await post(site, page, paid_action, {"transaction_reference": "", "paid_at": ""})
        assert no_ref.status_code == 422
        assert error_of(no_ref.text, f"transaction_reference-{first}") == "Required."
        assert error_of(no_ref.text, f"transaction_reference-{second}") == ""
        future = (datetime.now(BANGKOK) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
        ahead = await post(
            site, page, paid_action, {"transaction_reference": "KBANK-OUT-1", "paid_at": future}
        )
        assert ahead.status_code == 422
        assert "future" in error_of(ahead.text, f"paid_at-{first}")
        cancel_action = f"{path}/settlements/{second}/cancel"
        no_reason = await post(site, page, cancel_action, {"cancel_reason": ""})
        assert no_reason.status_code == 422
        assert error_of(no_reason.text, f"cancel_reason-{second}") == "Required."
        for sid in (first, second):
            row = await settlement(session, sid)
            assert (row.status, row.payment_status) == ("APPROVED", "PENDING")

        # Cancel the second: settlement and its payment CANCELLED, the claim still APPROVED.
        cancelled = await post(site, page, cancel_action, {"cancel_reason": "Paid by the garage"})
        assert (cancelled.status_code, cancelled.headers["location"]) == (303, path)
        row = await settlement(session, second)
        assert (row.status, row.payment_status, row.cancellation_reason) == (
            "CANCELLED",
            "CANCELLED",
            "Paid by the garage",
        )
        assert (await claim_state(session, claim.id)).status == "APPROVED"
        page = await site.client.get(path)
        assert "The settlement has been cancelled." in page.text

        # Mark the first paid: payment SUCCESS with the reference, the claim SETTLED.
        when = (datetime.now(BANGKOK) - timedelta(hours=1)).replace(second=0, microsecond=0)
        paid = await post(
            site,
            page,
            paid_action,
            {"transaction_reference": "KBANK-OUT-0042", "paid_at": when.strftime("%Y-%m-%dT%H:%M")},
        )
        assert (paid.status_code, paid.headers["location"]) == (303, path)
        row = await settlement(session, first)
        assert (row.status, row.payment_status, row.transaction_reference) == (
            "PAID",
            "SUCCESS",
            "KBANK-OUT-0042",
        )
        assert row.paid_at == when
        settled = await session.scalar(
            text("select settled_amount from motor.claims where id = :i"), {"i": claim.id}
        )
        assert (await claim_state(session, claim.id)).status == "SETTLED"
        assert settled == row.net_amount == Decimal("10000.00")  # 12,000 less the 2,000
        page = await site.client.get(path)
        assert "The settlement has been recorded as paid." in page.text
        assert "KBANK-OUT-0042" in page.text and baht(row.net_amount, "en") in page.text
        assert "/paid" not in page.text and "/cancel" not in page.text
        assert 'id="closure-form"' not in page.text  # finance does not close claims

        # Cancelling the paid one (a page read before): refused next to its reason.
        late = await post(site, page, f"{path}/settlements/{first}/cancel", {"cancel_reason": "x"})
        assert late.status_code == 422
        assert "only an unpaid one is cancelled" in error_of(late.text, f"cancel_reason-{first}")
        assert (await settlement(session, first)).status == "PAID"

    async def test_an_agent_may_not_pay_or_cancel(
        self,
        site: Site,  # noqa: F811 - the fixture
        session: AsyncSession,
    ) -> None:
        _, policy = await active_policy_id(site, session)
        agent = await staff(site.client, session, "AGENT")
        claim = await approved_claim(session, policy, "9000.00")
        made = await claim_settlements.create_settlements(
            session,
            claim.id,
            SettlementCreate.model_validate({"payees": [payee("9000.00")]}),
            user_id=agent.id,
        )
        await session.commit()
        sid = made.settlements[0].id
        path = page_of(claim.id)
        page = await site.client.get(path)
        assert f"/settlements/{sid}/paid" not in page.text
        for action, data in (
            ("paid", {"transaction_reference": "X-1", "paid_at": "2020-01-01T10:00"}),
            ("cancel", {"cancel_reason": "x"}),
        ):
            response = await post(site, page, f"{path}/settlements/{sid}/{action}", data)
            assert response.status_code == 403, action
        assert (await settlement(session, sid)).status == "APPROVED"


# --- policy cancellation ---------------------------------------------------------------------


async def policy_row(session: AsyncSession, policy_id: Any) -> Any:
    return (
        await session.execute(
            text(
                "select status, total_premium, start_date, end_date, policy_period_months"
                " from motor.policies where id = :i"
            ),
            {"i": policy_id},
        )
    ).one()


async def expected_refund(session: AsyncSession, policy_id: Any, effective: Any) -> Decimal:
    """The short-rate refund of the premium received, computed here from the table."""
    row = await policy_row(session, policy_id)
    paid = await session.scalar(
        text(
            "select coalesce(sum(total_amount), 0) from motor.payments where policy_id = :i"
            " and payment_direction = 'INCOMING' and payment_status = 'SUCCESS'"
        ),
        {"i": policy_id},
    )
    return policy_rules.cancellation_refund(
        total_premium=row.total_premium,
        paid=Decimal(paid),
        start=row.start_date,
        end=row.end_date,
        effective=effective,
        period_months=row.policy_period_months,
    ).amount


async def refunds(session: AsyncSession, policy_id: Any) -> list[Any]:
    rows = await session.execute(
        text(
            "select total_amount, payment_status, payment_direction from motor.payments"
            " where policy_id = :i and payment_type = 'REFUND'"
        ),
        {"i": policy_id},
    )
    return list(rows)


class TestPolicyCancellation:
    async def test_cancel_with_the_short_rate_refund(
        self,
        site: Site,  # noqa: F811 - the fixture
        session: AsyncSession,
    ) -> None:
        _, policy = await active_policy_id(site, session)
        number, pid = policy["policy_number"], policy["id"]
        path = f"/web/motor/policies/{number}"
        await web_session_of(site.client, session, "UNDERWRITER")
        page = await site.client.get(path)
        assert 'id="cancel-policy"' in page.text
        today = today_bangkok()
        now_refund = await expected_refund(session, pid, today)
        assert now_refund > 0
        shown = page.text.split('id="refund-amount">')[1].split("<")[0]
        assert shown == baht(now_refund, "en")

        # The refund of another date, as the form asks for it when the date changes (htmx).
        effective = today + timedelta(days=40)
        refund = await expected_refund(session, pid, effective)
        assert refund < now_refund
        fragment = await site.client.get(
            f"{path}/cancellation/refund",
            params={"effective_date": effective.isoformat()},
            headers={"HX-Request": "true"},
        )
        assert fragment.status_code == 200 and "<html" not in fragment.text
        assert baht(refund, "en") in fragment.text

        # Refusals next to their field, nothing written.
        end = (await policy_row(session, pid)).end_date
        too_late = await post(
            site,
            page,
            f"{path}/cancel",
            {"cancel_reason": "Sold the car", "effective_date": end.isoformat()},
        )
        assert too_late.status_code == 422
        assert "before the end date" in error_of(too_late.text, "effective_date")
        no_reason = await post(
            site,
            page,
            f"{path}/cancel",
            {"cancel_reason": "", "effective_date": effective.isoformat()},
        )
        assert no_reason.status_code == 422
        assert error_of(no_reason.text, "cancel_reason") == "Required."
        assert (await policy_row(session, pid)).status == "ACTIVE"
        assert await refunds(session, pid) == []

        done = await post(
            site,
            page,
            f"{path}/cancel",
            {"cancel_reason": "Sold the car", "effective_date": effective.isoformat()},
        )
        assert (done.status_code, done.headers["location"]) == (303, path)
        assert (await policy_row(session, pid)).status == "CANCELLED"
        (row,) = await refunds(session, pid)
        assert (row.total_amount, row.payment_status, row.payment_direction) == (
            refund,
            "PENDING",
            "OUTGOING",
        )
        page = await site.client.get(path)
        assert "The policy has been cancelled." in page.text
        assert page.text.split('id="cancellation-refund">')[1].startswith(baht(refund, "en"))
        assert 'id="cancel-policy"' not in page.text

        # Cancelled already (a page read before): refused next to the button, nothing more.
        again = await post(
            site,
            page,
            f"{path}/cancel",
            {"cancel_reason": "Again", "effective_date": today.isoformat()},
        )
        assert again.status_code == 422
        assert "is CANCELLED" in error_of(again.text, "cancellation")
        assert len(await refunds(session, pid)) == 1

    async def test_cancellation_needs_motor_policies_cancel(
        self,
        site: Site,  # noqa: F811 - the fixture
        session: AsyncSession,
    ) -> None:
        _, policy = await active_policy_id(site, session)
        path = f"/web/motor/policies/{policy['policy_number']}"
        await staff(site.client, session, "AGENT")  # motor.policies:write, not :cancel
        page = await site.client.get(path)
        assert page.status_code == 200 and 'id="cancel-policy"' not in page.text
        today = today_bangkok().isoformat()
        refused = await post(
            site, page, f"{path}/cancel", {"cancel_reason": "x", "effective_date": today}
        )
        assert refused.status_code == 403
        preview = await site.client.get(
            f"{path}/cancellation/refund", params={"effective_date": today}
        )
        assert preview.status_code == 403
        assert (await policy_row(session, policy["id"])).status == "ACTIVE"
        assert (
            await count(
                session,
                "select count(*) from motor.payments where policy_id = :i"
                " and payment_type = 'REFUND'",
                i=policy["id"],
            )
            == 0
        )
