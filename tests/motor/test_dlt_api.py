"""Motor DLT verifications end to end: the app calls the DLT sandbox over real HTTP (uvicorn
on 127.0.0.1) and stores each answered check with DLT's raw JSON; DLT down or its breaker
open is a 503 problem that writes nothing; unknown vehicle 404; permissions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from polis.integrations.dlt import DltClient
from polis.integrations.dlt_sandbox import bangkok_today
from tests.iam.factories import signed_in
from tests.integrations.sandbox import KEY, RunningSandbox, running_sandbox
from tests.motor.test_customers_api import CUSTOMERS, customer_body
from tests.motor.test_vehicles_api import VEHICLES, vehicle_body

PROBLEM = "application/problem+json"


@dataclass
class Api:
    client: AsyncClient
    app: FastAPI
    sandbox: RunningSandbox


@pytest.fixture
async def api(
    connection: AsyncConnection, sessionmaker: async_sessionmaker[AsyncSession], db_url: str
) -> AsyncIterator[Api]:
    """The app (requests inside the test transaction) configured by DLT_* settings to call a
    sandbox served for this test: 2 retries, the breaker opening after 3 failed attempts."""
    from asgi_lifespan import LifespanManager

    from polis.app import create_app
    from polis.config import Settings
    from polis.db.session import Database

    async with running_sandbox(flaky_failures=2) as sandbox:
        settings = Settings(
            database_url=db_url,
            dlt_base_url=sandbox.base_url,
            dlt_api_key=KEY,
            dlt_timeout_seconds=2,
            dlt_retries=2,
            dlt_breaker_failures=3,
            dlt_breaker_reset_seconds=60,
        )
        database = Database(engine=connection.engine, sessionmaker=sessionmaker)
        app = create_app(settings, database=database)
        async with (
            LifespanManager(app),
            AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as c,
        ):
            yield Api(client=c, app=app, sandbox=sandbox)


async def _vehicle(api: Api, headers: dict[str, str], plate: str, **overrides: Any) -> str:
    customer = await api.client.post(CUSTOMERS, json=customer_body(), headers=headers)
    assert customer.status_code == 201, customer.text
    body = vehicle_body(registration_number=plate, province="Bangkok", **overrides)
    vehicle = await api.client.post(
        f"{CUSTOMERS}/{customer.json()['id']}/vehicles", json=body, headers=headers
    )
    assert vehicle.status_code == 201, vehicle.text
    return str(vehicle.json()["id"])


async def _verify(api: Api, vid: str, headers: dict[str, str]) -> Response:
    return await api.client.post(f"{VEHICLES}/{vid}/verifications", headers=headers)


async def _rows(session: AsyncSession, vid: str | None = None) -> int:
    sql = "select count(*) from motor.dlt_verifications"
    if vid is not None:
        sql += " where vehicle_id = :v"
    return int(await session.scalar(text(sql), {"v": vid}) or 0)


class TestVerify:
    async def test_valid_stored_with_the_raw_answer(self, api: Api, session: AsyncSession) -> None:
        user, headers = await signed_in(api.client, session, role="AGENT")
        vid = await _vehicle(api, headers, "1กข 1234")
        response = await _verify(api, vid, headers)
        assert response.status_code == 201, response.text
        v = response.json()
        assert response.headers["Location"] == f"{VEHICLES}/{vid}/verifications/{v['id']}"
        assert v["vehicle_id"] == vid
        assert (v["registration_valid"], v["tax_paid"]) == (True, True)
        expiry = bangkok_today() + timedelta(days=60 + 1234 % 300)
        assert v["registration_expiry"] == expiry.isoformat()
        raw = v["dlt_response"]
        assert raw["status"] == "VALID"
        assert raw["registration_number"] == "1กข 1234"
        assert raw["province"] == "กรุงเทพมหานคร"
        assert raw["chassis_number"] == "MR0FZ29G501234567"  # the vehicle's, sent along
        assert v["dlt_reference_number"] == raw["reference_number"]
        assert (v["verified_by"], v["verification_method"]) == ("agent", "api")
        assert v["created_by"] == str(user.id)
        row = (
            await session.execute(
                text(
                    "select registration_valid, tax_paid, registration_expiry, dlt_response,"
                    " dlt_reference_number, verified_by, verification_method, created_by"
                    " from motor.dlt_verifications where id = :id"
                ),
                {"id": v["id"]},
            )
        ).one()
        assert row.registration_valid and row.tax_paid and row.registration_expiry == expiry
        assert row.dlt_response == raw
        assert row.dlt_reference_number == raw["reference_number"]
        assert (row.verified_by, row.verification_method, row.created_by) == (
            "agent",
            "api",
            user.id,
        )
        one = await api.client.get(f"{VEHICLES}/{vid}/verifications/{v['id']}", headers=headers)
        assert one.status_code == 200 and one.json() == v

    async def test_expired_and_unknown_are_stored(self, api: Api, session: AsyncSession) -> None:
        _, headers = await signed_in(api.client, session, role="ADMIN")
        expired_vid = await _vehicle(api, headers, "2ขค 5677")
        unknown_vid = await _vehicle(api, headers, "3คง 4449")

        expired = await _verify(api, expired_vid, headers)
        assert expired.status_code == 201, expired.text
        e = expired.json()
        assert (e["registration_valid"], e["tax_paid"]) == (False, False)
        assert date.fromisoformat(e["registration_expiry"]) == bangkok_today() - timedelta(
            days=1 + 5677 % 300
        )
        assert e["dlt_response"]["status"] == "EXPIRED"
        assert e["verified_by"] == "admin"

        unknown = await _verify(api, unknown_vid, headers)
        assert unknown.status_code == 201, unknown.text
        u = unknown.json()
        assert (u["registration_valid"], u["tax_paid"], u["registration_expiry"]) == (
            False,
            False,
            None,
        )
        assert u["dlt_response"]["status"] == "NOT_FOUND"
        assert u["dlt_reference_number"] == u["dlt_response"]["reference_number"]
        assert await _rows(session, expired_vid) == 1 and await _rows(session, unknown_vid) == 1

    async def test_flaky_dlt_succeeds_after_retries(self, api: Api, session: AsyncSession) -> None:
        _, headers = await signed_in(api.client, session, role="AGENT")
        vid = await _vehicle(api, headers, "1กข 9983")
        response = await _verify(api, vid, headers)
        assert response.status_code == 201, response.text
        assert response.json()["registration_valid"] is True
        assert api.sandbox.state.requests == 3
        assert await _rows(session, vid) == 1

    async def test_list_newest_first(self, api: Api, session: AsyncSession) -> None:
        _, headers = await signed_in(api.client, session, role="AGENT")
        vid = await _vehicle(api, headers, "1กข 1234")
        first = (await _verify(api, vid, headers)).json()
        second = (await _verify(api, vid, headers)).json()
        assert first["dlt_reference_number"] != second["dlt_reference_number"]
        listed = await api.client.get(f"{VEHICLES}/{vid}/verifications", headers=headers)
        assert listed.status_code == 200
        assert [v["id"] for v in listed.json()["items"]] == [second["id"], first["id"]]
        paged = await api.client.get(
            f"{VEHICLES}/{vid}/verifications", params={"limit": 1}, headers=headers
        )
        assert [v["id"] for v in paged.json()["items"]] == [second["id"]]
        rest = await api.client.get(
            f"{VEHICLES}/{vid}/verifications",
            params={"limit": 1, "cursor": paged.json()["next_cursor"]},
            headers=headers,
        )
        assert [v["id"] for v in rest.json()["items"]] == [first["id"]]


class TestFailures:
    async def test_dlt_down_is_503_writes_nothing_and_the_breaker_fails_fast(
        self, api: Api, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(api.client, session, role="AGENT")
        down = await _vehicle(api, headers, "1กข 9995")
        fine = await _vehicle(api, headers, "1กข 1234")

        response = await _verify(api, down, headers)
        assert response.status_code == 503
        assert response.headers["content-type"] == PROBLEM
        problem = response.json()
        assert problem["type"] == "urn:polis:problem:dlt-unavailable"
        assert "3 attempt" in problem["detail"]
        assert api.sandbox.state.requests == 3  # first try + 2 retries; breaker now open

        for vid in (down, fine):
            fast = await _verify(api, vid, headers)
            assert fast.status_code == 503
            assert fast.json()["type"] == "urn:polis:problem:dlt-unavailable"
            assert "circuit breaker" in fast.json()["detail"]
            assert 1 <= int(fast.headers["Retry-After"]) <= 60
        assert api.sandbox.state.requests == 3  # failed fast: no request reached DLT
        assert await _rows(session) == 0

        # The breaker is the app's one client: after its reset period a trial goes through.
        client: DltClient = api.app.state.dlt_client
        assert client.breaker.state == "open"
        client.breaker._opened_at = -1e9  # as if the reset period had passed
        ok = await _verify(api, fine, headers)
        assert ok.status_code == 201, ok.text
        assert await _rows(session) == 1

    async def test_wrong_api_key_is_502_and_writes_nothing(
        self, api: Api, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(api.client, session, role="AGENT")
        vid = await _vehicle(api, headers, "1กข 1234")
        api.app.state.dlt_client = DltClient(api.sandbox.base_url, "not-the-key")
        response = await _verify(api, vid, headers)
        assert response.status_code == 502
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["type"] == "urn:polis:problem:dlt-rejected"
        assert api.sandbox.state.requests == 1  # a 401 is not retried
        assert await _rows(session) == 0

    async def test_unknown_or_deleted_vehicle_is_404_without_a_dlt_call(
        self, api: Api, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(api.client, session, role="AGENT")
        missing = "00000000-0000-4000-8000-000000000000"
        response = await _verify(api, missing, headers)
        assert response.status_code == 404
        assert response.json()["type"] == "urn:polis:problem:vehicle-not-found"
        listed = await api.client.get(f"{VEHICLES}/{missing}/verifications", headers=headers)
        assert listed.status_code == 404
        vid = await _vehicle(api, headers, "1กข 1234")
        assert (await api.client.delete(f"{VEHICLES}/{vid}", headers=headers)).status_code == 204
        assert (await _verify(api, vid, headers)).status_code == 404
        assert api.sandbox.state.requests == 0
        assert await _rows(session) == 0

    async def test_permissions(self, api: Api, session: AsyncSession) -> None:
        _, agent = await signed_in(api.client, session, role="AGENT")
        vid = await _vehicle(api, agent, "1กข 1234")
        _, surveyor = await signed_in(api.client, session, role="SURVEYOR")
        refused = await _verify(api, vid, surveyor)
        assert refused.status_code == 403
        assert api.sandbox.state.requests == 0
        listed = await api.client.get(f"{VEHICLES}/{vid}/verifications", headers=surveyor)
        assert listed.status_code == 200 and listed.json()["items"] == []
        anonymous = await api.client.post(f"{VEHICLES}/{vid}/verifications")
        assert anonymous.status_code == 401

    async def test_idempotent_replay_does_not_call_dlt_again(
        self, api: Api, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(api.client, session, role="AGENT")
        vid = await _vehicle(api, headers, "1กข 1234")
        keyed = {**headers, "Idempotency-Key": "dlt-check-1"}
        first = await _verify(api, vid, keyed)
        again = await _verify(api, vid, keyed)
        assert (first.status_code, again.status_code) == (201, 201)
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert again.json() == first.json()
        assert api.sandbox.state.requests == 1
        assert await _rows(session, vid) == 1
