"""Motor back office forms through the app (httpx): register and change a customer (the
version read guards the change), register a customer's vehicle. Rows written with the values
typed, refusals next to their field with nothing written, stale versions, permissions."""

from __future__ import annotations

import re
import uuid
from typing import Any

from httpx import AsyncClient, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.iam.models import User
from polis.motor import customer_rules as rules
from polis.motor.customers import customers as customer_service
from polis.motor.schemas import CustomerCreate
from polis.platform.crypto import get_keyring
from tests.motor.test_customers_api import INVALID_PIN, customer_body, thai_pin
from tests.web.helpers import csrf, staff

NEW = "/web/motor/customers/new"


def customer_form(**over: str) -> dict[str, str]:
    """A customer as the form posts it."""
    values = {
        "first_name": "สมหญิง",
        "last_name": "รักดี",
        "first_name_en": "Somying",
        "last_name_en": "Rakdee",
        "national_id": thai_pin(),
        "date_of_birth": "1990-02-14",
        "gender": "FEMALE",
        "phone_number": "081-234-5678",
        "email": f"Somying.{uuid.uuid4().hex[:10]}@Example.co.th",
        "preferred_language": "en",
        "house_no": "99/1",
        "moo": "",
        "village": "",
        "building": "",
        "soi": "",
        "road": "ราชดำเนินใน",
        "tambon": "พระบรมมหาราชวัง",
        "amphoe": "พระนคร",
        "province": "Bangkok",
        "postal_code": "10200",
        "marketing_consent": "yes",
        "sms_notifications": "no",
        "email_notifications": "",
        "consent_channel": "PAPER",
    }
    values.update(over)
    return values


def vehicle_form(**over: str) -> dict[str, str]:
    """A vehicle as the form posts it."""
    values = {
        "registration_number": f"1กข {uuid.uuid4().int % 9000 + 1000}",
        "province": "Bangkok",
        "make": "TOYOTA",
        "model": "Corolla Cross",
        "year_of_manufacture": "2022",
        "engine_size": "1.8",
        "vehicle_type": "SUV",
        "fuel_type": "HYBRID",
        "usage_type": "PERSONAL",
        "color": "WHITE",
        "chassis_number": "",
        "annual_mileage": "15000",
        "parking_location": "GARAGE",
    }
    values.update(over)
    return values


async def count(session: AsyncSession, sql: str, **params: Any) -> int:
    return int(await session.scalar(text(sql), params) or 0)


async def post_form(client: AsyncClient, page: str, data: dict[str, str]) -> Response:
    """GET the form at `page` for its CSRF token, then POST `data` to it."""
    got = await client.get(page)
    assert got.status_code == 200, got.text
    return await client.post(page, data={**data, "csrf_token": csrf(got)})


def error_of(html: str, field: str) -> str:
    """The error text shown next to form field `field` ('' when none)."""
    found = re.search(rf'id="f-{field}-error">([^<]*)<', html)
    return found.group(1) if found else ""


async def a_customer(session: AsyncSession, user: User, **over: Any) -> str:
    """A customer registered through the service (as POST /motor/customers), committed."""
    body = CustomerCreate.model_validate(customer_body(**over))
    made = await customer_service.create(session, body, user.id)
    await session.commit()
    return str(made.id)


async def customer_row(session: AsyncSession, customer_id: str) -> Any:
    return (
        await session.execute(
            text("select * from motor.customers where id = :id"), {"id": customer_id}
        )
    ).one()


class TestNewCustomer:
    async def test_the_form_writes_one_customer_and_its_consents(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await staff(client, session, "AGENT")
        search = await client.get("/web/motor/customers")
        assert f'href="{NEW}"' in search.text
        values = customer_form()
        response = await post_form(client, NEW, values)
        assert response.status_code == 303, response.text
        customer_id = response.headers["location"].removeprefix("/web/motor/customers/")
        email = values["email"].lower()
        assert (
            await count(session, "select count(*) from motor.customers where email = :e", e=email)
            == 1
        )
        row = await customer_row(session, customer_id)
        nid = values["national_id"]
        assert (row.first_name, row.last_name, row.first_name_en, row.last_name_en) == (
            "สมหญิง",
            "รักดี",
            "Somying",
            "Rakdee",
        )
        assert row.national_id_hash == get_keyring().blind_index(nid)
        assert row.national_id.endswith(nid[-4:]) and nid not in row.national_id
        assert str(row.date_of_birth) == "1990-02-14" and row.gender == "FEMALE"
        assert row.phone_number == rules.normalise_phone("081-234-5678")
        assert (row.preferred_language, row.version) == ("en", 0)
        assert row.address["province_code"] == "10" and row.address["tambon"] == "พระบรมมหาราชวัง"
        assert (row.marketing_consent, row.sms_notifications) == (True, False)
        consents = (
            await session.execute(
                text(
                    "select consent_type, granted, channel from motor.consent_records"
                    " where customer_id = :id order by consent_type"
                ),
                {"id": customer_id},
            )
        ).all()
        assert [tuple(c) for c in consents] == [
            ("MARKETING", True, "PAPER"),
            ("SMS", False, "PAPER"),
        ]
        page = await client.get(response.headers["location"])
        assert "The customer has been registered." in page.text
        assert nid not in page.text

    async def test_refusals_are_next_to_their_field_and_write_nothing(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await staff(client, session, "AGENT")
        taken = thai_pin()
        await a_customer(session, user, national_id=taken)
        before = await count(session, "select count(*) from motor.customers")
        consents = await count(session, "select count(*) from motor.consent_records")
        cases = (
            ({"national_id": INVALID_PIN}, "national_id", "not a valid Thai national id"),
            ({"province": "Atlantis"}, "province", "Unknown province"),
            ({"national_id": taken}, "national_id", "National id already registered"),
            ({"first_name": ""}, "first_name", "Required."),
            ({"postal_code": "10110"}, "postal_code", "Postal code is not that of tambon"),
        )
        for over, field, message in cases:
            response = await post_form(client, NEW, customer_form(**over))
            assert response.status_code == 422, over
            assert message in error_of(response.text, field), (over, response.text)
            assert "Nothing was saved." in response.text
            assert 'value="Somying"' in response.text  # what was typed is kept
        assert await count(session, "select count(*) from motor.customers") == before
        assert await count(session, "select count(*) from motor.consent_records") == consents


class TestEditCustomer:
    async def test_a_change_is_saved_and_the_version_goes_up(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await staff(client, session, "AGENT")
        customer_id = await a_customer(session, user, marketing_consent=True)
        page = f"/web/motor/customers/{customer_id}"
        shown = await client.get(page)
        assert f'href="{page}/edit"' in shown.text
        form = await client.get(f"{page}/edit")
        assert form.status_code == 200
        assert 'name="version" value="0"' in form.text and 'name="national_id"' not in form.text
        values = customer_form(
            last_name="ใจงาม",
            phone_number="0899999999",
            road="",
            marketing_consent="no",
            sms_notifications="",
            consent_channel="CALL_CENTER",
        )
        del values["national_id"]
        response = await client.post(
            f"{page}/edit", data={**values, "version": "0", "csrf_token": csrf(form)}
        )
        assert response.status_code == 303, response.text
        assert response.headers["location"] == page
        row = await customer_row(session, customer_id)
        assert (row.last_name, row.phone_number, row.email) == (
            "ใจงาม",
            "0899999999",
            values["email"].lower(),
        )
        assert "road" not in row.address and row.address["postal_code"] == "10200"
        assert row.marketing_consent is False
        assert row.version == 2  # the change, then the withdrawn marketing consent
        withdrawn = await count(
            session,
            "select count(*) from motor.consent_records where customer_id = :id"
            " and consent_type = 'MARKETING' and withdrawn_at is not null"
            " and withdrawal_channel = 'CALL_CENTER'",
            id=customer_id,
        )
        assert withdrawn == 1
        assert "have been saved" in (await client.get(page)).text

    async def test_a_stale_version_is_409_and_changes_nothing(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await staff(client, session, "AGENT")
        customer_id = await a_customer(session, user)
        edit = f"/web/motor/customers/{customer_id}/edit"
        form = await client.get(edit)
        assert 'name="version" value="0"' in form.text
        await customer_service.update(
            session, uuid.UUID(customer_id), {"last_name": "ก่อน"}, 0, user.id
        )
        await session.commit()
        values = customer_form(last_name="หลัง")
        del values["national_id"]
        stale = await client.post(edit, data={**values, "version": "0", "csrf_token": csrf(form)})
        assert stale.status_code == 409
        assert 'id="form-problem"' in stale.text and "Someone else changed" in stale.text
        row = await customer_row(session, customer_id)
        assert (row.last_name, row.version) == ("ก่อน", 1)
        refused = await client.post(
            edit, data={**values, "email": "", "version": "1", "csrf_token": csrf(form)}
        )
        assert refused.status_code == 422 and error_of(refused.text, "email") == "Required."
        assert (await customer_row(session, customer_id)).version == 1


class TestNewVehicle:
    async def test_the_form_writes_one_vehicle(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await staff(client, session, "AGENT")
        customer_id = await a_customer(session, user)
        page = await client.get(f"/web/motor/customers/{customer_id}")
        new = f"/web/motor/customers/{customer_id}/vehicles/new"
        assert f'href="{new}"' in page.text
        response = await post_form(client, new, vehicle_form(registration_number="2ขค 4321"))
        assert response.status_code == 303, response.text
        vehicle_id = response.headers["location"].removeprefix("/web/motor/vehicles/")
        rows = (
            await session.execute(
                text(
                    "select id, registration_number, province, engine_size, year_of_manufacture,"
                    " vehicle_type, fuel_type from motor.customer_vehicles"
                    " where customer_id = :c"
                ),
                {"c": customer_id},
            )
        ).all()
        assert len(rows) == 1 and str(rows[0].id) == vehicle_id
        assert rows[0].registration_number == rules.normalise_registration("2ขค 4321")
        assert (rows[0].province, str(rows[0].engine_size), rows[0].year_of_manufacture) == (
            "กรุงเทพมหานคร",
            "1.8",
            2022,
        )
        shown = await client.get(response.headers["location"])
        assert "The vehicle has been registered." in shown.text and 'id="verify-now"' in shown.text

    async def test_refusals_are_next_to_their_field_and_write_nothing(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await staff(client, session, "AGENT")
        customer_id = await a_customer(session, user)
        new = f"/web/motor/customers/{customer_id}/vehicles/new"
        first = await post_form(client, new, vehicle_form(registration_number="3กก 1111"))
        assert first.status_code == 303
        before = await count(session, "select count(*) from motor.customer_vehicles")
        cases = (
            ({"year_of_manufacture": "1900"}, "year_of_manufacture", "must be between 1950"),
            ({"engine_size": "0"}, "engine_size", "greater than 0"),
            ({"registration_number": "3กก 1111"}, "registration_number", "Already registered"),
            ({"province": "Atlantis"}, "province", "Unknown province"),
            ({"vehicle_type": ""}, "vehicle_type", "Required."),
        )
        for over, field, message in cases:
            response = await post_form(client, new, vehicle_form(**over))
            assert response.status_code == 422, over
            assert message in error_of(response.text, field), (over, response.text)
            assert 'value="Corolla Cross"' in response.text
        assert await count(session, "select count(*) from motor.customer_vehicles") == before
        missing = await client.get(f"/web/motor/customers/{uuid.uuid4()}/vehicles/new")
        assert missing.status_code == 404


class TestPermissions:
    async def test_a_role_without_write_gets_403_and_writes_nothing(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        agent = await staff(client, session, "AGENT")
        customer_id = await a_customer(session, agent)
        client.cookies.clear()
        await staff(client, session, "SURVEYOR")  # reads customers and vehicles, writes neither
        page = await client.get(f"/web/motor/customers/{customer_id}")
        assert page.status_code == 200
        assert "/edit" not in page.text and "/vehicles/new" not in page.text
        assert f'href="{NEW}"' not in (await client.get("/web/motor/customers")).text
        token = csrf(await client.get("/web/"))
        customers = await count(session, "select count(*) from motor.customers")
        edit = f"/web/motor/customers/{customer_id}/edit"
        vehicle = f"/web/motor/customers/{customer_id}/vehicles/new"
        for path, data in (
            (NEW, customer_form()),
            (edit, {**customer_form(last_name="ใหม่"), "version": "0"}),
            (vehicle, vehicle_form()),
        ):
            assert (await client.get(path)).status_code == 403, path
            refused = await client.post(path, data={**data, "csrf_token": token})
            assert refused.status_code == 403, path
            assert "You may not open this page" in refused.text
        assert await count(session, "select count(*) from motor.customers") == customers
        assert (await customer_row(session, customer_id)).version == 0
        assert (
            await count(
                session,
                "select count(*) from motor.customer_vehicles where customer_id = :c",
                c=customer_id,
            )
            == 0
        )

    async def test_a_form_without_its_csrf_token_is_refused(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await staff(client, session, "AGENT")
        before = await count(session, "select count(*) from motor.customers")
        forged = await client.post(NEW, data=customer_form())
        assert forged.status_code == 403
        assert await count(session, "select count(*) from motor.customers") == before
