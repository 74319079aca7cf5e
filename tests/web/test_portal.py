"""The self-service portal through the app (httpx): members and customers see their own
records only (row-level security: another person's claim or policy is the 404 page), upload
documents to their own claims (rows written, and none for a refused file or another's claim),
download EOBs, policy documents and receipts, follow a premium due with its PromptPay QR
until it is paid; sign-in by SMS code through our SMS sandbox served over real HTTP."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from polis.app import create_app
from polis.config import Settings
from polis.db.session import Database
from polis.health.adjudication import submit_claim
from polis.health.models import Member
from polis.iam.models import User
from polis.integrations.sms_sandbox import create_sms_sandbox_app
from polis.motor.models import Customer
from tests.health.test_adjudication_service import ClaimWorld, build_world, gp, request
from tests.iam.factories import signed_in, totp_code
from tests.integrations.sandbox import serve
from tests.motor.claim_factory import active_policy, insert_claim
from tests.motor.test_policies_api import bound_policy, confirm
from tests.web.helpers import csrf, make_user, sign_in

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


@pytest.fixture
async def admin(client: AsyncClient, session: AsyncSession) -> dict[str, str]:
    _, headers = await signed_in(client, session, role="ADMIN")
    return headers


async def login_for(
    session: AsyncSession, role: str, *, member: Member | None = None, customer: str | None = None
) -> User:
    """A MEMBER or CUSTOMER login (English pages) linked to its person, committed."""
    # The last digit is never 9: numbers ending in 9999 are the SMS sandbox's "down" ones.
    user = await make_user(session, role, phone_number=f"08{uuid.uuid4().int % 10**7:07d}1")
    if member is not None:
        await session.execute(update(Member).where(Member.id == member.id).values(user_id=user.id))
    if customer is not None:
        await session.execute(
            update(Customer).where(Customer.id == uuid.UUID(customer)).values(user_id=user.id)
        )
    await session.commit()
    return user


@dataclass
class HealthPerson:
    world: ClaimWorld
    claim_ids: list[uuid.UUID]
    user: User


async def health_person(session: AsyncSession) -> HealthPerson:
    world = await build_world(session)
    first = await submit_claim(session, request(world, gp()))
    second = await submit_claim(session, request(world, gp("250000.00")))
    await session.commit()
    user = await login_for(session, "MEMBER", member=world.member)
    return HealthPerson(world, [first.claim_id, second.claim_id], user)


async def count(session: AsyncSession, sql: str, **params: Any) -> int:
    return int(await session.scalar(text(sql), params) or 0)


def field_error(html: str, field: str) -> str:
    found = re.search(rf'id="{field}-error">([^<]*)<', html)
    return found.group(1) if found else ""


async def upload(
    client: AsyncClient, page_url: str, action: str, name: str, data: bytes, kind: str, mime: str
) -> Any:
    page = await client.get(page_url)
    assert page.status_code == 200, page.text
    return await client.post(
        action,
        data={"csrf_token": csrf(page), "document_type": kind},
        files={"file": (name, data, mime)},
    )


# --- members ---------------------------------------------------------------------------------


async def test_a_member_sees_own_cover_and_claims_only(
    client: AsyncClient, session: AsyncSession
) -> None:
    ana = await health_person(session)
    budi = await health_person(session)
    assert (await sign_in(client, ana.user.username)).status_code == 303

    home = await client.get("/web/")
    assert home.status_code == 303 and home.headers["location"] == "/web/me"
    me = await client.get("/web/me")
    assert me.status_code == 303 and me.headers["location"] == "/web/me/health"

    page = await client.get("/web/me/health")
    assert page.status_code == 200, page.text
    assert ana.world.member.member_number in page.text
    assert budi.world.member.member_number not in page.text
    for claim_id in ana.claim_ids:
        assert f'href="/web/me/health/claims/{claim_id}"' in page.text
    for claim_id in budi.claim_ids:
        assert str(claim_id) not in page.text
    assert "<meter" in page.text  # benefits as used/remaining bars
    assert 'href="/web/me/health"' in page.text  # the portal's navigation
    assert 'href="/web/health/claims"' not in page.text  # and no staff pages

    claim = await client.get(f"/web/me/health/claims/{ana.claim_ids[0]}")
    assert claim.status_code == 200, claim.text
    assert "Lines and how they were adjudicated" in claim.text
    assert f"/web/me/health/claims/{ana.claim_ids[0]}/eob.pdf" in claim.text
    assert 'action="/web/health/' not in claim.text  # no staff forms
    assert "History" not in claim.text

    eob = await client.get(f"/web/me/health/claims/{ana.claim_ids[0]}/eob.pdf?lang=en")
    assert eob.status_code == 200
    assert eob.headers["content-type"] == "application/pdf" and eob.content.startswith(b"%PDF")
    sent = await count(
        session,
        "select count(*) from billing.eob where claim_id = :c and sent_date is not null",
        c=ana.claim_ids[0],
    )
    assert sent == 1

    for claim_id in budi.claim_ids:
        for suffix in ("", "/eob.pdf"):
            other = await client.get(f"/web/me/health/claims/{claim_id}{suffix}")
            assert other.status_code == 404, suffix
            assert "Page not found" in other.text


async def test_a_member_uploads_to_own_claims_only(
    client: AsyncClient, session: AsyncSession
) -> None:
    ana = await health_person(session)
    budi = await health_person(session)
    await sign_in(client, ana.user.username)
    mine = f"/web/me/health/claims/{ana.claim_ids[0]}"
    docs = "select count(*) from claims.claim_document where claim_id = :c"

    made = await upload(
        client, mine, f"{mine}/documents", "kuitansi.pdf", PDF, "receipt", "application/pdf"
    )
    assert made.status_code == 303, made.text
    assert made.headers["location"] == mine
    assert await count(session, docs, c=ana.claim_ids[0]) == 1
    row = (
        await session.execute(
            text(
                "select id, uploaded_by, document_type from claims.claim_document"
                " where claim_id = :c"
            ),
            {"c": ana.claim_ids[0]},
        )
    ).one()
    assert row.uploaded_by == str(ana.user.id) and row.document_type == "receipt"
    shown = await client.get(mine)
    assert "kuitansi.pdf" in shown.text
    back = await client.get(f"{mine}/documents/{row.id}")
    assert back.status_code == 200 and back.content == PDF

    # A file whose content is not what its name says: refused next to the field, no row.
    bad = await upload(
        client, mine, f"{mine}/documents", "x.pdf", b"hello", "receipt", "application/pdf"
    )
    assert bad.status_code == 422
    assert field_error(bad.text, "document-file")
    assert await count(session, docs, c=ana.claim_ids[0]) == 1

    # Another member's claim: the 404 page, nothing written.
    theirs = f"/web/me/health/claims/{budi.claim_ids[0]}/documents"
    page = await client.get(mine)
    refused = await client.post(
        theirs,
        data={"csrf_token": csrf(page), "document_type": "receipt"},
        files={"file": ("k.pdf", PDF, "application/pdf")},
    )
    assert refused.status_code == 404
    assert await count(session, docs, c=budi.claim_ids[0]) == 0
    # Nor can the member read another's document.
    other = await client.get(f"/web/me/health/claims/{budi.claim_ids[0]}/documents/{row.id}")
    assert other.status_code == 404


# --- customers -------------------------------------------------------------------------------


@dataclass
class MotorPerson:
    policy: dict[str, Any]
    claim_id: uuid.UUID
    user: User


async def motor_person(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> MotorPerson:
    policy = await active_policy(client, admin)
    claim = await insert_claim(session, policy["id"])
    await session.commit()
    user = await login_for(session, "CUSTOMER", customer=policy["customer_id"])
    return MotorPerson(policy, claim.id, user)


async def test_a_customer_sees_own_policies_claims_and_documents_only(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    kan = await motor_person(client, session, admin)
    lek = await motor_person(client, session, admin)
    await sign_in(client, kan.user.username)
    me = await client.get("/web/me")
    assert me.status_code == 303 and me.headers["location"] == "/web/me/motor"

    number, theirs = kan.policy["policy_number"], lek.policy["policy_number"]
    overview = await client.get("/web/me/motor")
    assert overview.status_code == 200, overview.text
    assert f'href="/web/me/motor/policies/{number}"' in overview.text
    assert theirs not in overview.text
    assert f'href="/web/me/motor/claims/{kan.claim_id}"' in overview.text
    assert str(lek.claim_id) not in overview.text

    policy = await client.get(f"/web/me/motor/policies/{number}")
    assert policy.status_code == 200, policy.text
    documents = re.findall(
        rf'href="(/web/me/motor/policies/{number}/documents/[^"]+)"', policy.text
    )
    assert documents, "the active policy's documents are listed"
    pdf = await client.get(documents[0])
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    receipt = re.search(r'href="(/web/me/motor/payments/[^"]+/receipt\.pdf\?lang=en)"', policy.text)
    assert receipt, "the paid premium has its receipt"
    got = await client.get(receipt.group(1))
    assert got.status_code == 200 and got.content.startswith(b"%PDF")
    assert "promptpay.png" not in policy.text  # nothing due

    claim = await client.get(f"/web/me/motor/claims/{kan.claim_id}")
    assert claim.status_code == 200, claim.text
    assert "Fraud score" not in claim.text and "fraud" not in claim.text.lower()

    for path in (
        f"/web/me/motor/policies/{theirs}",
        f"/web/me/motor/claims/{lek.claim_id}",
    ):
        other = await client.get(path)
        assert other.status_code == 404, path


async def test_a_customer_sends_a_photo_to_own_claim_only(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    kan = await motor_person(client, session, admin)
    lek = await motor_person(client, session, admin)
    await sign_in(client, kan.user.username)
    mine = f"/web/me/motor/claims/{kan.claim_id}"
    docs = "select count(*) from motor.claim_documents where claim_id = :c"

    made = await upload(client, mine, f"{mine}/documents", "bumper.png", PNG, "PHOTO", "image/png")
    assert made.status_code == 303, made.text
    assert await count(session, docs, c=kan.claim_id) == 1
    row = (
        await session.execute(
            text(
                "select id, uploaded_by, document_type, document_category"
                " from motor.claim_documents where claim_id = :c"
            ),
            {"c": kan.claim_id},
        )
    ).one()
    assert row.uploaded_by == kan.user.id
    assert (row.document_type, row.document_category) == ("PHOTO", "DAMAGE")
    back = await client.get(f"{mine}/documents/{row.id}")
    assert back.status_code == 200 and back.content == PNG

    bad = await upload(client, mine, f"{mine}/documents", "bumper.png", PDF, "PHOTO", "image/png")
    assert bad.status_code == 422
    assert field_error(bad.text, "file")
    assert await count(session, docs, c=kan.claim_id) == 1

    page = await client.get(mine)
    refused = await client.post(
        f"/web/me/motor/claims/{lek.claim_id}/documents",
        data={"csrf_token": csrf(page), "document_type": "PHOTO"},
        files={"file": ("b.png", PNG, "image/png")},
    )
    assert refused.status_code == 404
    assert await count(session, docs, c=lek.claim_id) == 0


async def test_a_premium_due_shows_its_promptpay_qr_until_paid(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    policy = await bound_policy(client, admin)
    user = await login_for(session, "CUSTOMER", customer=policy["customer_id"])
    payment = policy["payments"][0]
    await sign_in(client, user.username)

    page = await client.get(f"/web/me/motor/policies/{policy['policy_number']}")
    assert page.status_code == 200, page.text
    qr_url = f"/web/me/motor/payments/{payment['id']}/promptpay.png"
    assert qr_url in page.text
    assert "becomes active once the premium is paid" in page.text
    image = await client.get(qr_url)
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png" and image.content.startswith(b"\x89PNG")

    fragment = await client.get(
        f"/web/me/motor/payments/{payment['id']}", headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200
    assert 'hx-trigger="every 5s"' in fragment.text and "Pending" in fragment.text

    paid = await confirm(client, admin, payment, f"B-{uuid.uuid4().hex[:8]}")
    assert paid.status_code == 200, paid.text
    fragment = await client.get(f"/web/me/motor/payments/{payment['id']}")
    assert "hx-trigger" not in fragment.text and "Paid" in fragment.text
    assert f"/web/me/motor/payments/{payment['id']}/receipt.pdf" in fragment.text
    gone = await client.get(qr_url)
    assert gone.status_code == 409  # nothing left to pay


async def test_portal_pages_refuse_staff_and_unlinked_logins(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    kan = await motor_person(client, session, admin)
    unlinked = await make_user(session, "MEMBER")
    await sign_in(client, unlinked.username)
    page = await client.get("/web/me")
    assert page.status_code == 403
    assert "not linked" in page.text
    assert (await client.get("/web/me/health")).status_code == 403
    assert (await client.get("/web/me/motor")).status_code == 403  # a member, not a customer

    client.cookies.clear()
    boss = await make_user(session, "SUPER_ADMIN", totp=True)  # holds every permission
    step = await sign_in(client, boss.username)
    done = await client.post(
        "/web/sign-in/code",
        data={"code": totp_code(boss.username), "next": "/web/", "csrf_token": csrf(step)},
    )
    assert done.status_code == 303, done.text
    home = await client.get("/web/")
    assert home.status_code == 200 and 'href="/web/health/claims"' in home.text
    assert 'href="/web/me/motor"' not in home.text and 'href="/web/me/health"' not in home.text

    client.cookies.clear()
    await sign_in(client, (await make_user(session, "CLAIMS_PROCESSOR")).username)
    for path in ("/web/me/health", f"/web/me/motor/claims/{kan.claim_id}"):
        assert (await client.get(path)).status_code == 403, path


# --- sign-in by SMS code ---------------------------------------------------------------------

SMS_KEY = "portal-sms-key"


@pytest.fixture
async def sms_site(
    connection: AsyncConnection, sessionmaker: async_sessionmaker[AsyncSession], db_url: str
) -> AsyncIterator[tuple[AsyncClient, str]]:
    """The app (inside the test transaction) sending SMS to our sandbox on 127.0.0.1."""
    sandbox = create_sms_sandbox_app(SMS_KEY)
    async with serve(sandbox) as sms_url:
        settings = Settings(database_url=db_url, sms_base_url=sms_url, sms_api_key=SMS_KEY)
        app = create_app(settings, database=Database(connection.engine, sessionmaker))
        async with (
            LifespanManager(app),
            AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as c,
        ):
            yield c, sms_url


async def sms_texts(sms_url: str, to: str) -> list[str]:
    async with AsyncClient(base_url=sms_url) as http:
        got = await http.get("/messages", params={"to": to})
    assert got.status_code == 200
    return [m["text"] for m in got.json()["items"]]


async def test_sign_in_with_a_code_by_sms(
    sms_site: tuple[AsyncClient, str], session: AsyncSession
) -> None:
    client, sms_url = sms_site
    person = await health_person(session)
    phone = str(person.user.phone_number)

    form = await client.get("/web/sign-in/sms")
    assert form.status_code == 200
    asked = await client.post(
        "/web/sign-in/sms", data={"username": person.user.username, "csrf_token": csrf(form)}
    )
    assert asked.status_code == 200, asked.text
    assert 'action="/web/sign-in/sms/code"' in asked.text
    texts = await sms_texts(sms_url, phone)
    assert len(texts) == 1
    code = re.findall(r"\b(\d{6})\b", texts[0])[0]

    wrong = "000000" if code != "000000" else "111111"
    refused = await client.post(
        "/web/sign-in/sms/code", data={"code": wrong, "csrf_token": csrf(asked)}
    )
    assert refused.status_code == 401
    assert "not correct" in field_error(refused.text, "code")
    assert (await client.get("/web/me")).status_code == 303  # still signed out
    failed = await count(
        session, "select failed_login_attempts from iam.users where id = :u", u=person.user.id
    )
    assert failed == 1

    done = await client.post(
        "/web/sign-in/sms/code", data={"code": code, "csrf_token": csrf(asked)}
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/web/me"
    page = await client.get("/web/me/health")
    assert page.status_code == 200 and person.world.member.member_number in page.text
    method = await session.scalar(
        text(
            "select login_method from iam.user_sessions where user_id = :u"
            " order by created_at desc limit 1"
        ),
        {"u": person.user.id},
    )
    assert method == "TOKEN"

    # The code works once.
    client.cookies.clear()
    again = await client.get("/web/sign-in/sms")
    replay = await client.post(
        "/web/sign-in/sms/code", data={"code": code, "csrf_token": csrf(again)}
    )
    assert replay.status_code == 401


async def test_an_unknown_username_gets_the_same_page_and_no_sms(
    sms_site: tuple[AsyncClient, str], session: AsyncSession
) -> None:
    client, sms_url = sms_site
    staff_user = await make_user(session, "CLAIMS_PROCESSOR", phone_number="0899999999")
    form = await client.get("/web/sign-in/sms")
    for username in ("nobody-" + uuid.uuid4().hex[:8], staff_user.username):
        asked = await client.post(
            "/web/sign-in/sms", data={"username": username, "csrf_token": csrf(form)}
        )
        assert asked.status_code == 200
        assert 'action="/web/sign-in/sms/code"' in asked.text
    assert await sms_texts(sms_url, "0899999999") == []
    empty = await client.post("/web/sign-in/sms", data={"username": "", "csrf_token": csrf(form)})
    assert empty.status_code == 422 and field_error(empty.text, "username")
    member = await session.scalar(select(User.id).where(User.username == staff_user.username))
    assert member is not None
