"""Helpers of the page tests: sign in through the form, read a form's CSRF token, build a
claim world with a pended claim."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from httpx import AsyncClient, Response
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from polis.health import authorizations
from polis.health.adjudication import submit_claim
from polis.health.authorization_schemas import AuthorizationCreate
from polis.health.endpoints import claim_request
from polis.health.schemas import ClaimCreate
from polis.iam.models import User
from polis.reference.models import SystemConfiguration
from tests.health.test_adjudication_service import ClaimWorld, build_world
from tests.health.test_claims_api import claim_body
from tests.iam.factories import PASSWORD, create_user

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(page: Response | str) -> str:
    """The CSRF token of the first form of a page."""
    html = page if isinstance(page, str) else page.text
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


async def sign_in(client: AsyncClient, username: str, password: str = PASSWORD) -> Response:
    """Sign in through the form (GET for the token, POST the form); the client keeps the
    cookies. Returns the POST's answer."""
    form = await client.get("/web/sign-in")
    assert form.status_code == 200, form.text
    return await client.post(
        "/web/sign-in",
        data={"username": username, "password": password, "csrf_token": csrf(form)},
    )


async def make_user(session: AsyncSession, role: str, **values: Any) -> User:
    """A user of `role` whose pages are in English unless told, committed."""
    values.setdefault("preferred_language", "en")
    user = await create_user(session, role=role, **values)
    await session.commit()
    return user


async def staff(client: AsyncClient, session: AsyncSession, role: str, **values: Any) -> User:
    """A user of `role` (English pages unless told), committed and signed in."""
    user = await make_user(session, role, **values)
    response = await sign_in(client, user.username)
    assert response.status_code == 303, response.text
    return user


@dataclass
class Pended:
    """A claim world and a claim of it pended for review."""

    world: ClaimWorld
    claim_id: str
    claim_number: str


async def set_review_amount(session: AsyncSession, amount: str) -> None:
    """HEALTH_CLAIM_REVIEW_AMOUNT: claims paying more wait for a person."""
    await session.execute(
        update(SystemConfiguration)
        .where(SystemConfiguration.config_key == "HEALTH_CLAIM_REVIEW_AMOUNT")
        .values(config_value=amount)
    )


async def pended_claim(session: AsyncSession, world: ClaimWorld | None = None) -> Pended:
    """Submit a claim through the service (as POST /health/claims does) that pends for
    review; committed (a savepoint of the test transaction, or for real on a real engine)."""
    w = world or await build_world(session)
    await set_review_amount(session, "999999.99")
    body = ClaimCreate.model_validate(claim_body(w))
    outcome = await submit_claim(session, claim_request(body, None))
    await session.commit()
    assert outcome.status == "pended", outcome.status
    return Pended(w, str(outcome.claim_id), outcome.claim_number)


async def decided_claim(session: AsyncSession, world: ClaimWorld) -> str:
    """A claim approved at once (review amount back out of reach); its id."""
    await set_review_amount(session, "999999999.99")
    body = ClaimCreate.model_validate(claim_body(world))
    outcome = await submit_claim(session, claim_request(body, None))
    await session.commit()
    return str(outcome.claim_id)


async def pending_letter(session: AsyncSession) -> str:
    """A pending inpatient guarantee letter (3,500,000 for 3 days), committed; its number."""
    w = await build_world(session)
    today = authorizations.today_jakarta()
    body = AuthorizationCreate.model_validate(
        {
            "member_number": w.member.member_number,
            "provider_code": w.provider.provider_code,
            "service_type": "inpatient",
            "diagnosis_code": "K35.8",
            "valid_from": today.isoformat(),
            "valid_to": (today + timedelta(days=5)).isoformat(),
            "requested_amount": "3500000.00",
            "requested_days": 3,
        }
    )
    view = await authorizations.create(session, body, today)
    await session.commit()
    return view.authorization.authorization_number
