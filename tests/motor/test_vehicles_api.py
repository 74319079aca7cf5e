"""Motor vehicles API: registration under a customer, the seed's CHECKs as 422 field by
field, registration + province unique among live vehicles, soft delete, permissions."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from httpx import AsyncClient, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.iam.factories import signed_in
from tests.motor.test_customers_api import CUSTOMERS, customer_body

VEHICLES = "/api/v1/motor/vehicles"


# Thai plate letters for random prefixes: a plate is "<digit><two letters> <number>", and the
# DLT sandbox answers by the trailing number only (polis.integrations.dlt_sandbox).
_PLATE_LETTERS = "กขคงจฉชซฌญฎฏฐฒณดตถทธนบปผพฟภมยรลวศษสหฬอฮ"


def random_plate() -> str:
    """A plate unlikely to be taken in the shared test database: 9 x 39 x 39 prefixes times
    9,000 numbers (1000-9999, the DLT sandbox's whole range). With the number alone (9,000),
    one run's few hundred vehicles in a province met an earlier one now and then."""
    n, k = uuid.uuid4().int, len(_PLATE_LETTERS)
    first, second = _PLATE_LETTERS[n % k], _PLATE_LETTERS[n // k % k]
    return f"{n // k**2 % 9 + 1}{first}{second} {n // (9 * k**2) % 9000 + 1000}"


def vehicle_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "registration_number": random_plate(),
        "province": "กรุงเทพมหานคร",
        "make": "TOYOTA",
        "model": "Corolla Cross",
        "year_of_manufacture": 2022,
        "engine_size": "1.8",
        "vehicle_type": "SUV",
        "fuel_type": "HYBRID",
        "color": "WHITE",
        "chassis_number": "mr0fz29g5 01234567",
        "usage_type": "PERSONAL",
        "annual_mileage": 15000,
        "parking_location": "GARAGE",
    }
    body.update(overrides)
    return body


def _fields(response: Response) -> list[str]:
    return [e["field"] for e in response.json().get("errors", [])]


async def _customer(client: AsyncClient, headers: dict[str, str]) -> str:
    response = await client.post(CUSTOMERS, json=customer_body(), headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _vehicle_rows(session: AsyncSession, customer_id: str) -> int:
    return int(
        await session.scalar(
            text("select count(*) from motor.customer_vehicles where customer_id = :c"),
            {"c": customer_id},
        )
        or 0
    )


class TestCrud:
    async def test_create_read_update_delete(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user, headers = await signed_in(client, session, role="AGENT")
        cid = await _customer(client, headers)
        body = vehicle_body(registration_number="1กข-4321", province="Bangkok")
        response = await client.post(f"{CUSTOMERS}/{cid}/vehicles", json=body, headers=headers)
        assert response.status_code == 201, response.text
        vehicle = response.json()
        assert vehicle["customer_id"] == cid
        assert vehicle["registration_number"] == "1กข 4321"
        assert vehicle["province"] == "กรุงเทพมหานคร"
        assert vehicle["engine_size"] == "1.8"
        assert vehicle["chassis_number"] == "MR0FZ29G501234567"
        assert vehicle["is_active"] is True
        assert vehicle["created_by"] == str(user.id)
        vid = vehicle["id"]

        assert (await client.get(f"{VEHICLES}/{vid}", headers=headers)).json() == vehicle
        listed = await client.get(f"{CUSTOMERS}/{cid}/vehicles", headers=headers)
        assert [v["id"] for v in listed.json()["items"]] == [vid]
        by_plate = await client.get(
            VEHICLES, params={"registration_number": "1 กข 4321", "province": "10"}, headers=headers
        )
        assert [v["id"] for v in by_plate.json()["items"]] == [vid]
        by_alias = await client.get(
            VEHICLES, params={"registration_number": "1กข4321", "province": "กทม."}, headers=headers
        )
        assert [v["id"] for v in by_alias.json()["items"]] == [vid]

        patched = await client.patch(
            f"{VEHICLES}/{vid}",
            json={"color": "BLACK", "annual_mileage": 20000, "engine_size": 2},
            headers=headers,
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["color"] == "BLACK"
        assert patched.json()["engine_size"] == "2.0"
        assert patched.json()["registration_number"] == "1กข 4321"

        assert (await client.delete(f"{VEHICLES}/{vid}", headers=headers)).status_code == 204
        assert (await client.get(f"{VEHICLES}/{vid}", headers=headers)).status_code == 404
        listed = await client.get(f"{CUSTOMERS}/{cid}/vehicles", headers=headers)
        assert listed.json()["items"] == []
        row = (
            await session.execute(
                text(
                    "select deleted_at, deleted_by, is_active from motor.customer_vehicles"
                    " where id = :id"
                ),
                {"id": vid},
            )
        ).one()
        assert row.deleted_at is not None and row.deleted_by == user.id and not row.is_active

    async def test_vehicle_of_unknown_or_deleted_customer_is_404(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        response = await client.post(
            f"{CUSTOMERS}/{uuid.uuid4()}/vehicles", json=vehicle_body(), headers=headers
        )
        assert response.status_code == 404
        cid = await _customer(client, headers)
        vid = (
            await client.post(f"{CUSTOMERS}/{cid}/vehicles", json=vehicle_body(), headers=headers)
        ).json()["id"]
        assert (await client.delete(f"{CUSTOMERS}/{cid}", headers=headers)).status_code == 204
        # Deleting the customer soft-deletes their vehicles.
        assert (await client.get(f"{VEHICLES}/{vid}", headers=headers)).status_code == 404
        response = await client.post(
            f"{CUSTOMERS}/{cid}/vehicles", json=vehicle_body(), headers=headers
        )
        assert response.status_code == 404


class TestValidation:
    async def test_year_1900_is_422_and_writes_nothing(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        cid = await _customer(client, headers)
        response = await client.post(
            f"{CUSTOMERS}/{cid}/vehicles",
            json=vehicle_body(year_of_manufacture=1900),
            headers=headers,
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert _fields(response) == ["body.year_of_manufacture"]
        assert await _vehicle_rows(session, cid) == 0

    async def test_year_bounds_follow_the_calendar(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        cid = await _customer(client, headers)
        next_year = datetime.now(UTC).year + 1
        for year, expected in ((1950, 201), (next_year, 201), (next_year + 1, 422), (1949, 422)):
            response = await client.post(
                f"{CUSTOMERS}/{cid}/vehicles",
                json=vehicle_body(year_of_manufacture=year),
                headers=headers,
            )
            assert response.status_code == expected, (year, response.text)

    async def test_engine_size_0_is_422(self, client: AsyncClient, session: AsyncSession) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        cid = await _customer(client, headers)
        for size in (0, "0.0", -1.5, "1000", "1.55"):
            response = await client.post(
                f"{CUSTOMERS}/{cid}/vehicles", json=vehicle_body(engine_size=size), headers=headers
            )
            assert response.status_code == 422, size
            assert _fields(response) == ["body.engine_size"]
        assert await _vehicle_rows(session, cid) == 0

    async def test_vocabularies_field_by_field(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        cid = await _customer(client, headers)
        response = await client.post(
            f"{CUSTOMERS}/{cid}/vehicles",
            json=vehicle_body(
                vehicle_type="TANK",
                fuel_type="COAL",
                usage_type="RACING",
                parking_location="ROOF",
                annual_mileage=0,
                chassis_number="JH4KA8260MC0I0000",  # 17 characters with an I: not a VIN
            ),
            headers=headers,
        )
        assert response.status_code == 422
        assert sorted(_fields(response)) == [
            "body.annual_mileage",
            "body.chassis_number",
            "body.fuel_type",
            "body.parking_location",
            "body.usage_type",
            "body.vehicle_type",
        ]
        assert await _vehicle_rows(session, cid) == 0

    async def test_unknown_province_is_422(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        cid = await _customer(client, headers)
        response = await client.post(
            f"{CUSTOMERS}/{cid}/vehicles", json=vehicle_body(province="Atlantis"), headers=headers
        )
        assert response.status_code == 422
        assert _fields(response) == ["body.province"]
        assert await _vehicle_rows(session, cid) == 0

    async def test_japanese_frame_number_is_accepted(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        cid = await _customer(client, headers)
        response = await client.post(
            f"{CUSTOMERS}/{cid}/vehicles",
            json=vehicle_body(chassis_number="kdh222-0012345", engine_size=None),
            headers=headers,
        )
        assert response.status_code == 201, response.text
        assert response.json()["chassis_number"] == "KDH222-0012345"
        assert response.json()["engine_size"] is None

    async def test_db_check_is_the_backstop(self, session: AsyncSession) -> None:
        # The same rule, below the API: the seed's CHECK refuses the row.
        from sqlalchemy.exc import IntegrityError

        try:
            async with session.begin_nested():
                cid = await session.scalar(
                    text(
                        "insert into motor.customers (email, first_name, last_name)"
                        " values (:e, 'ก', 'ข') returning id"
                    ),
                    {"e": f"{uuid.uuid4().hex}@example.test"},
                )
                await session.execute(
                    text(
                        "insert into motor.customer_vehicles (customer_id, registration_number,"
                        " province, make, model, year_of_manufacture, vehicle_type, fuel_type)"
                        " values (:c, 'x 1', 'กรุงเทพมหานคร', 'A', 'B', 1900, 'SEDAN', 'DIESEL')"
                    ),
                    {"c": cid},
                )
            raise AssertionError("the CHECK let year 1900 through")
        except IntegrityError as exc:
            assert "customer_vehicles_year_of_manufacture_check" in str(exc)


class TestUniqueness:
    async def test_same_plate_in_same_province_is_409_naming_both_fields(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        first_owner = await _customer(client, headers)
        second_owner = await _customer(client, headers)
        body = vehicle_body(registration_number="9กก 9999", province="เชียงใหม่")
        first = await client.post(f"{CUSTOMERS}/{first_owner}/vehicles", json=body, headers=headers)
        assert first.status_code == 201
        same = vehicle_body(registration_number="9 กก-9999", province="Chiang Mai")
        response = await client.post(
            f"{CUSTOMERS}/{second_owner}/vehicles", json=same, headers=headers
        )
        assert response.status_code == 409
        assert response.json()["type"] == "urn:polis:problem:registration-exists"
        assert _fields(response) == ["body.registration_number", "body.province"]
        assert await _vehicle_rows(session, second_owner) == 0
        # The same plate in another province is another vehicle.
        other = vehicle_body(registration_number="9กก 9999", province="ภูเก็ต")
        assert (
            await client.post(f"{CUSTOMERS}/{second_owner}/vehicles", json=other, headers=headers)
        ).status_code == 201
        # Once the first is deleted (sold), the plate is free in its province.
        assert (
            await client.delete(f"{VEHICLES}/{first.json()['id']}", headers=headers)
        ).status_code == 204
        assert (
            await client.post(f"{CUSTOMERS}/{second_owner}/vehicles", json=same, headers=headers)
        ).status_code == 201

    async def test_patch_onto_a_taken_plate_is_409(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        cid = await _customer(client, headers)
        a = (
            await client.post(
                f"{CUSTOMERS}/{cid}/vehicles",
                json=vehicle_body(registration_number="2ขค 1111"),
                headers=headers,
            )
        ).json()
        b = (
            await client.post(
                f"{CUSTOMERS}/{cid}/vehicles",
                json=vehicle_body(registration_number="2ขค 2222"),
                headers=headers,
            )
        ).json()
        response = await client.patch(
            f"{VEHICLES}/{b['id']}", json={"registration_number": "2ขค1111"}, headers=headers
        )
        assert response.status_code == 409
        assert _fields(response) == ["body.registration_number", "body.province"]
        unchanged = await client.get(f"{VEHICLES}/{b['id']}", headers=headers)
        assert unchanged.json()["registration_number"] == "2ขค 2222"
        assert a["registration_number"] == "2ขค 1111"


class TestPolicies:
    async def test_vehicle_with_active_policy_cannot_be_deleted(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        cid = await _customer(client, headers)
        vid = (
            await client.post(f"{CUSTOMERS}/{cid}/vehicles", json=vehicle_body(), headers=headers)
        ).json()["id"]
        await session.execute(
            text(
                "insert into motor.policies (policy_number, customer_id, vehicle_id, policy_type,"
                " coverage_details, base_premium, total_premium, start_date, end_date, status)"
                " values (:n, :c, :v, 'CMI', '{}', 600, 600, :s, :e, 'ACTIVE')"
            ),
            {
                "n": f"CMI-{uuid.uuid4().hex[:10]}",
                "c": cid,
                "v": vid,
                "s": date(2026, 1, 1),
                "e": date(2027, 1, 1),
            },
        )
        response = await client.delete(f"{VEHICLES}/{vid}", headers=headers)
        assert response.status_code == 409
        assert response.json()["type"] == "urn:polis:problem:vehicle-has-policy"
        response = await client.delete(f"{CUSTOMERS}/{cid}", headers=headers)
        assert response.status_code == 409
        assert (await client.get(f"{VEHICLES}/{vid}", headers=headers)).status_code == 200


class TestPermissions:
    async def test_roles(self, client: AsyncClient, session: AsyncSession) -> None:
        _, agent = await signed_in(client, session, role="AGENT")
        cid = await _customer(client, agent)
        _, surveyor = await signed_in(client, session, role="SURVEYOR")
        assert (await client.get(VEHICLES, headers=surveyor)).status_code == 200
        response = await client.post(
            f"{CUSTOMERS}/{cid}/vehicles", json=vehicle_body(), headers=surveyor
        )
        assert response.status_code == 403
        _, customer = await signed_in(client, session, role="CUSTOMER")
        assert (await client.get(VEHICLES, headers=customer)).status_code == 403
