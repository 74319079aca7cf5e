"""Self-service submissions on the portal (decision 0068, amended): a member claims a
reimbursement and a customer reports a claim on an ACTIVE policy of theirs, through the
forms. A success writes one claim of the signed-in person (and of the policy in the URL);
every refusal is shown next to its field (422) and writes nothing; another customer's policy
is the 404 page."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.health.authorizations import today_jakarta
from polis.web import i18n
from polis.web.pages.portal import plain_amount
from tests.motor.claim_factory import active_policy, backdate_policy, class1_quote, days_ago
from tests.motor.test_policies_api import bound_policy
from tests.web.helpers import csrf, make_user, sign_in
from tests.web.test_portal import (
    admin,  # noqa: F401 - fixture
    count,
    field_error,
    health_person,
    login_for,
    motor_person,
)

NEW_HEALTH = "/web/me/health/claims/new"
ALL_HEALTH = "select count(*) from claims.claim"
ALL_MOTOR = "select count(*) from motor.claims"


def claim_form(token: str, chosen: str, **over: str) -> dict[str, str]:
    """A reimbursement of a GP visit on 10 March 2025, the provider chosen from the list."""
    data = {
        "csrf_token": token,
        "provider": chosen,
        "provider_code": "",
        "service_type": "outpatient",
        "service_date": "2025-03-10",
        "lines-0-benefit_code": "OP-GP",
        "lines-0-diagnosis_code": "j06.9",
        "lines-0-charged_amount": "1,000,000",
        "lines-0-quantity": "",
        "lines-1-benefit_code": "",
        "lines-1-diagnosis_code": "",
        "lines-1-charged_amount": "",
        "lines-2-benefit_code": "",
    }
    data.update(over)
    return data


async def test_a_member_claims_a_reimbursement_with_the_form(
    client: AsyncClient, session: AsyncSession
) -> None:
    ana = await health_person(session)
    budi = await health_person(session)
    await sign_in(client, ana.user.username)
    provider = ana.world.provider.provider_code

    cover = await client.get("/web/me/health")
    assert f'href="{NEW_HEALTH}"' in cover.text
    form = await client.get(NEW_HEALTH)
    assert form.status_code == 200, form.text
    assert f'<option value="{provider}"' in form.text  # an active network provider
    assert '<option value="OP-GP"' in form.text and '<option value="IP-ROOM"' in form.text
    assert '<option value="DENT"' not in form.text  # not covered by the plan
    assert 'name="lines-2-charged_amount"' in form.text
    more = await client.get(f"{NEW_HEALTH}?lines=5")
    assert 'name="lines-4-charged_amount"' in more.text

    mine = "select count(*) from claims.claim where member_id = :m"
    before = await count(session, mine, m=ana.world.member.id)
    made = await client.post(NEW_HEALTH, data=claim_form(csrf(form), provider))
    assert made.status_code == 303, made.text
    found = re.fullmatch(r"/web/me/health/claims/([0-9a-f-]{36})", made.headers["location"])
    assert found, made.headers["location"]
    assert await count(session, mine, m=ana.world.member.id) == before + 1
    assert await count(session, mine, m=budi.world.member.id) == 2
    row = (
        await session.execute(
            text(
                "select member_id, claim_type, service_type, status, total_charged_amount::text"
                " as charged, (select string_agg(diagnosis_code, ',') from claims.claim_item"
                " where claim_id = c.id) as diagnoses from claims.claim c where id = :id"
            ),
            {"id": found.group(1)},
        )
    ).one()
    assert row.member_id == ana.world.member.id
    assert (row.claim_type, row.service_type, row.status) == (
        "reimbursement",
        "outpatient",
        "pended",
    )
    assert (row.charged, row.diagnoses) == ("1000000.00", "J06.9")

    page = await client.get(made.headers["location"])
    assert page.status_code == 200
    assert "It waits for the documents it needs" in page.text  # the flash
    assert "Waiting for required documents" in page.text
    assert f'action="{made.headers["location"]}/documents"' in page.text

    # The provider by its code when it is not in the list; two lines.
    again = await client.post(
        NEW_HEALTH,
        data=claim_form(
            csrf(form),
            "",
            provider_code=provider,
            **{
                "lines-1-benefit_code": "OP-GP",
                "lines-1-diagnosis_code": "R51",
                "lines-1-charged_amount": "150000.50",
            },
        ),
    )
    assert again.status_code == 303, again.text
    assert await count(session, mine, m=ana.world.member.id) == before + 2
    lines = await count(
        session,
        "select count(*) from claims.claim_item where claim_id = :c",
        c=again.headers["location"].rsplit("/", 1)[1],
    )
    assert lines == 2


async def test_refused_reimbursements_show_next_to_their_field_and_write_nothing(
    client: AsyncClient, session: AsyncSession
) -> None:
    ana = await health_person(session)
    await sign_in(client, ana.user.username)
    provider = ana.world.provider.provider_code
    token = csrf(await client.get(NEW_HEALTH))
    before = await count(session, ALL_HEALTH)
    future = (today_jakarta() + timedelta(days=1)).isoformat()
    cases: list[tuple[dict[str, str], str, str]] = [
        (
            {"lines-0-diagnosis_code": "XYZ"},
            "lines-0-diagnosis_code",
            "Not an ICD-10 code (e.g. J06.9).",
        ),
        ({"lines-0-charged_amount": "-5"}, "lines-0-charged_amount", "Must not be negative."),
        ({"lines-0-charged_amount": "lots"}, "lines-0-charged_amount", "Enter an amount"),
        ({"lines-0-quantity": "0"}, "lines-0-quantity", "Enter a whole number of at least 1."),
        ({"service_date": "2019-06-01"}, "f-service_date", "You are not covered on this date."),
        ({"service_date": future}, "f-service_date", "The service date cannot be in the future."),
        ({"service_date": ""}, "f-service_date", "Required."),
        ({"provider": "", "provider_code": "NO-SUCH-PRV"}, "provider", "There is no provider"),
        ({"provider": "", "provider_code": ""}, "provider", "Required."),
        ({"lines-0-benefit_code": "NOPE"}, "lines-0-benefit_code", "Not a benefit of your plan."),
        ({"lines-0-benefit_code": ""}, "lines-0-benefit_code", "Required."),
        (
            {
                "lines-0-benefit_code": "",
                "lines-0-diagnosis_code": "",
                "lines-0-charged_amount": "",
            },
            "lines",
            "Add at least one line.",
        ),
        ({"service_type": "spa"}, "f-service_type", "Choose one of the options."),
    ]
    for over, field, message in cases:
        refused = await client.post(NEW_HEALTH, data=claim_form(token, provider, **over))
        assert refused.status_code == 422, (over, refused.text[:400])
        assert field_error(refused.text, field).startswith(message), (over, refused.text)
        assert "Nothing was saved" in refused.text
    assert await count(session, ALL_HEALTH) == before

    # What was typed is shown again.
    refused = await client.post(
        NEW_HEALTH, data=claim_form(token, provider, **{"lines-0-diagnosis_code": "XYZ"})
    )
    assert 'value="XYZ"' in refused.text and 'value="1,000,000"' in refused.text


def test_amounts_are_read_as_typed_in_the_page_language() -> None:
    i18n.set_language("id")
    assert plain_amount("1.500.000") == "1500000"
    assert plain_amount("1.500.000,50") == "1500000.50"
    assert plain_amount("150000") == "150000"
    i18n.set_language("en")
    assert plain_amount("1,500,000.50") == "1500000.50"
    assert plain_amount("150 000") == "150000"
    assert plain_amount("-5") == "-5"


async def test_only_members_claim_reimbursements(
    client: AsyncClient,
    session: AsyncSession,
    admin: dict[str, str],  # noqa: F811
) -> None:
    kan = await motor_person(client, session, admin)
    await sign_in(client, kan.user.username)
    assert (await client.get(NEW_HEALTH)).status_code == 403
    overview = await client.get("/web/me/motor")
    refused = await client.post(NEW_HEALTH, data=claim_form(csrf(overview), "X"))
    assert refused.status_code == 403
    client.cookies.clear()
    ana = await health_person(session)
    await sign_in(client, ana.user.username)
    no_token = await client.post(NEW_HEALTH, data=claim_form("forged", "X"))
    assert no_token.status_code == 403


# --- motor -----------------------------------------------------------------------------------


def local(moment: Any) -> str:
    """A datetime-local value (Bangkok)."""
    return str(moment.strftime("%Y-%m-%dT%H:%M"))


def fnol_form(token: str, **over: str) -> dict[str, str]:
    data = {
        "csrf_token": token,
        "claim_type": "ACCIDENT",
        "incident_date": local(days_ago(2)),
        "incident_description": "ชนท้ายที่สี่แยกไฟแดง",
        "damage_description": "กันชนหลังบุบ",
        "injury_description": "",
        "place_text": "ถนนราชดำเนินใน หน้าสนามหลวง",
        "place_tambon": "พระบรมมหาราชวัง",
        "place_amphoe": "1001",
        "place_province": "10",
        "place_postal_code": "10200",
        "police_report_number": "",
        "estimated_amount": "45,000.50",
    }
    data.update(over)
    return data


async def class1_customer(
    client: AsyncClient, session: AsyncSession, staff: dict[str, str]
) -> tuple[dict[str, Any], Any]:
    policy = await active_policy(client, staff, **class1_quote())
    await backdate_policy(session, policy["id"], 10)
    user = await login_for(session, "CUSTOMER", customer=policy["customer_id"])
    return policy, user


async def test_a_customer_reports_a_claim_with_the_form(
    client: AsyncClient,
    session: AsyncSession,
    admin: dict[str, str],  # noqa: F811
) -> None:
    policy, user = await class1_customer(client, session, admin)
    await sign_in(client, user.username)
    number = policy["policy_number"]
    url = f"/web/me/motor/claims/new?policy={number}"

    overview = await client.get("/web/me/motor")
    assert f'href="{url}"' in overview.text
    assert f'href="{url}"' in (await client.get(f"/web/me/motor/policies/{number}")).text
    form = await client.get(url)
    assert form.status_code == 200, form.text
    assert 'name="incident_date" type="datetime-local"' in form.text

    of_policy = "select count(*) from motor.claims where policy_id = :p"
    made = await client.post(url, data=fnol_form(csrf(form)))
    assert made.status_code == 303, made.text
    found = re.fullmatch(r"/web/me/motor/claims/([0-9a-f-]{36})", made.headers["location"])
    assert found, made.headers["location"]
    assert await count(session, of_policy, p=policy["id"]) == 1
    row = (
        await session.execute(
            text(
                "select policy_id, created_by, status, estimated_amount::text as amount,"
                " incident_date, incident_location from motor.claims where id = :id"
            ),
            {"id": found.group(1)},
        )
    ).one()
    assert str(row.policy_id) == policy["id"] and row.created_by == user.id
    assert (row.status, row.amount) == ("REPORTED", "45000.50")
    assert row.incident_date == days_ago(2)
    assert row.incident_location["address"]["province_code"] == "10"
    assert row.incident_location["address"]["text"] == "ถนนราชดำเนินใน หน้าสนามหลวง"

    page = await client.get(made.headers["location"])
    assert page.status_code == 200
    assert "Your claim has been reported." in page.text
    assert "Send photos or documents" in page.text
    assert "fraud" not in page.text.lower()

    # Without a place: accepted too.
    bare = fnol_form(
        csrf(form),
        place_text="",
        place_tambon="",
        place_amphoe="",
        place_province="",
        place_postal_code="",
    )
    assert (await client.post(url, data=bare)).status_code == 303
    assert await count(session, of_policy, p=policy["id"]) == 2


async def test_refused_notices_show_next_to_their_field_and_write_nothing(
    client: AsyncClient,
    session: AsyncSession,
    admin: dict[str, str],  # noqa: F811
) -> None:
    policy, user = await class1_customer(client, session, admin)
    lek = await motor_person(client, session, admin)
    draft = await bound_policy(client, admin)  # not paid: DRAFT
    await sign_in(client, user.username)
    url = f"/web/me/motor/claims/new?policy={policy['policy_number']}"
    token = csrf(await client.get(url))
    before = await count(session, ALL_MOTOR)
    tomorrow = local(days_ago(-1))
    cases: list[tuple[dict[str, str], str, str]] = [
        ({"incident_date": tomorrow}, "f-incident_date", "The incident cannot be in the future."),
        ({"incident_date": local(days_ago(30))}, "f-incident_date", "The incident is outside"),
        ({"incident_date": "yesterday"}, "f-incident_date", "Enter the date and time."),
        ({"incident_description": ""}, "f-incident_description", "Required."),
        ({"damage_description": ""}, "f-damage_description", "Describe the damage"),
        ({"place_postal_code": "10110"}, "f-place_postal_code", "Not the postal code"),
        ({"place_province": "Atlantis"}, "f-place_province", "Unknown province."),
        ({"place_tambon": ""}, "f-place_tambon", "Required."),
        ({"estimated_amount": "-1"}, "f-estimated_amount", "Must not be negative."),
        ({"claim_type": "METEOR"}, "f-claim_type", "Choose one of the options."),
    ]
    for over, field, message in cases:
        refused = await client.post(url, data=fnol_form(token, **over))
        assert refused.status_code == 422, (over, refused.text[:400])
        assert field_error(refused.text, field).startswith(message), (over, refused.text)
    assert await count(session, ALL_MOTOR) == before

    # Another customer's policy: the 404 page, whether read or posted to.
    theirs = f"/web/me/motor/claims/new?policy={lek.policy['policy_number']}"
    assert (await client.get(theirs)).status_code == 404
    assert (await client.post(theirs, data=fnol_form(token))).status_code == 404
    assert await count(session, ALL_MOTOR) == before

    # A policy that is not active: said so, and a notice is refused.
    client.cookies.clear()
    owner = await login_for(session, "CUSTOMER", customer=draft["customer_id"])
    await sign_in(client, owner.username)
    draft_url = f"/web/me/motor/claims/new?policy={draft['policy_number']}"
    shown = await client.get(draft_url)
    assert shown.status_code == 409 and "not active" in shown.text
    assert "Report a claim" not in (await client.get("/web/me/motor")).text
    token = csrf(await client.get("/web/me/motor/policies/" + draft["policy_number"]))
    refused = await client.post(draft_url, data=fnol_form(token))
    assert refused.status_code == 422
    assert "a claim needs an active policy" in refused.text
    assert await count(session, ALL_MOTOR) == before

    # A member may not report motor claims.
    client.cookies.clear()
    member = await make_user(session, "MEMBER")
    await sign_in(client, member.username)
    assert (await client.get(url)).status_code == 403
