"""Motor customers API: create / read / update (If-Match) / soft delete, the sealed national
id, the address against ref geography, KYC transitions, consent decisions, permissions."""

from __future__ import annotations

import random
import uuid
from typing import Any

from httpx import AsyncClient, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.platform.crypto import get_keyring
from tests.iam.factories import signed_in

CUSTOMERS = "/api/v1/motor/customers"
INVALID_PIN = "3100600445636"  # check digit wrong (python-stdnum refuses it)


def thai_pin(seed: int | None = None) -> str:
    """A valid Thai personal id (mod-11 check digit)."""
    rng = random.Random(seed)
    digits = [rng.randint(1, 8)] + [rng.randint(0, 9) for _ in range(11)]
    check = (11 - sum(d * (13 - i) for i, d in enumerate(digits)) % 11) % 10
    return "".join(map(str, digits)) + str(check)


def bangkok_address(**overrides: Any) -> dict[str, Any]:
    address = {
        "house_no": "99/1",
        "road": "ราชดำเนินใน",
        "tambon": "พระบรมมหาราชวัง",
        "amphoe": "พระนคร",
        "province": "กรุงเทพมหานคร",
        "postal_code": "10200",
    }
    address.update(overrides)
    return address


def customer_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": f"somchai.{uuid.uuid4().hex[:10]}@Example.co.th",
        "phone_number": "081-234-5678",
        "national_id": thai_pin(),
        "first_name": "สมชาย",
        "last_name": "ใจดี",
        "first_name_en": "Somchai",
        "last_name_en": "Jaidee",
        "date_of_birth": "1985-04-12",
        "gender": "MALE",
        "address": bangkok_address(),
        "preferred_language": "th",
    }
    body.update(overrides)
    return body


async def _count(session: AsyncSession, sql: str, **params: Any) -> int:
    return int(await session.scalar(text(sql), params) or 0)


async def _customers_with_email(session: AsyncSession, email: str) -> int:
    return await _count(
        session, "select count(*) from motor.customers where email = :e", e=email.lower()
    )


def _fields(response: Response) -> list[str]:
    return [e["field"] for e in response.json().get("errors", [])]


async def _create(client: AsyncClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = await client.post(CUSTOMERS, json=customer_body(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    assert response.headers["ETag"] == '"0"'
    data: dict[str, Any] = response.json()
    return data


class TestCrud:
    async def test_create_read_update_delete(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user, headers = await signed_in(client, session, role="AGENT")
        pin = thai_pin(1)
        body = customer_body(national_id=f"{pin[0]}-{pin[1:5]}-{pin[5:10]}-{pin[10:12]}-{pin[12]}")
        response = await client.post(CUSTOMERS, json=body, headers=headers)
        assert response.status_code == 201, response.text
        created = response.json()
        assert response.headers["ETag"] == '"0"'
        assert created["email"] == body["email"].lower()
        assert created["phone_number"] == "0812345678"
        assert created["national_id"] == "*********" + pin[-4:]
        assert created["version"] == 0
        assert created["account_status"] == "ACTIVE"
        assert created["kyc_status"] == "PENDING"
        assert created["created_by"] == str(user.id)
        assert created["address"] == {
            "house_no": "99/1",
            "moo": None,
            "village": None,
            "building": None,
            "soi": None,
            "road": "ราชดำเนินใน",
            "tambon": "พระบรมมหาราชวัง",
            "tambon_en": "Phra Borom Maha Ratchawang",
            "tambon_code": "100101",
            "amphoe": "พระนคร",
            "amphoe_en": "Phra Nakhon",
            "amphoe_code": "1001",
            "province": "กรุงเทพมหานคร",
            "province_en": "Bangkok",
            "province_code": "10",
            "postal_code": "10200",
        }
        for hidden in ("national_id_encrypted", "national_id_hash", "encryption_key_id"):
            assert hidden not in created
        cid = created["id"]

        response = await client.get(f"{CUSTOMERS}/{cid}", headers=headers)
        assert response.status_code == 200
        assert response.headers["ETag"] == '"0"'
        assert response.json() == created

        response = await client.patch(
            f"{CUSTOMERS}/{cid}",
            json={"first_name_en": "Somchai T.", "preferred_language": "en"},
            headers={**headers, "If-Match": '"0"'},
        )
        assert response.status_code == 200, response.text
        assert response.headers["ETag"] == '"1"'
        updated = response.json()
        assert updated["version"] == 1
        assert updated["first_name_en"] == "Somchai T."
        assert updated["preferred_language"] == "en"
        assert updated["last_name"] == "ใจดี"  # untouched

        response = await client.delete(f"{CUSTOMERS}/{cid}", headers=headers)
        assert response.status_code == 204
        row = (
            await session.execute(
                text(
                    "select account_status, deleted_at, deleted_by, version"
                    " from motor.customers where id = :id"
                ),
                {"id": cid},
            )
        ).one()
        assert row.account_status == "CLOSED"
        assert row.deleted_at is not None
        assert row.deleted_by == user.id
        assert row.version == 2
        assert (await client.get(f"{CUSTOMERS}/{cid}", headers=headers)).status_code == 404
        listed = await client.get(CUSTOMERS, params={"email": body["email"]}, headers=headers)
        assert listed.json()["items"] == []
        again = await client.delete(f"{CUSTOMERS}/{cid}", headers=headers)
        assert again.status_code == 404

    async def test_english_names_and_codes_in_the_address(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        address = {
            "house_no": "12",
            "tambon": "Tambon Si Phum",
            "amphoe": "5001",
            "province": "chiang mai",
            "postal_code": "50200",
        }
        created = await _create(client, headers, address=address)
        assert created["address"]["tambon"] == "ศรีภูมิ"
        assert created["address"]["amphoe"] == "เมืองเชียงใหม่"
        assert created["address"]["province"] == "เชียงใหม่"
        assert created["address"]["tambon_code"] == "500101"

    async def test_unknown_customer_is_404(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        response = await client.get(f"{CUSTOMERS}/{uuid.uuid4()}", headers=headers)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


class TestValidation:
    async def test_invalid_national_id_is_422_and_writes_nothing(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        body = customer_body(national_id=INVALID_PIN)
        response = await client.post(CUSTOMERS, json=body, headers=headers)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert _fields(response) == ["body.national_id"]
        assert INVALID_PIN not in response.text
        assert await _customers_with_email(session, body["email"]) == 0

    async def test_field_by_field_errors(self, client: AsyncClient, session: AsyncSession) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        body = customer_body(
            email="not-an-email",
            phone_number="12",
            gender="M",
            first_name="Som1",
            first_name_en="สมชาย",
            preferred_language="de",
            kyc_status="DONE",
            date_of_birth="2999-01-01",
        )
        response = await client.post(CUSTOMERS, json=body, headers=headers)
        assert response.status_code == 422
        assert sorted(_fields(response)) == sorted(
            [
                "body.email",
                "body.phone_number",
                "body.gender",
                "body.first_name",
                "body.first_name_en",
                "body.preferred_language",
                "body.kyc_status",
                "body.date_of_birth",
            ]
        )

    async def test_unknown_province_is_422(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        body = customer_body(address=bangkok_address(province="Gotham"))
        response = await client.post(CUSTOMERS, json=body, headers=headers)
        assert response.status_code == 422, response.text
        assert _fields(response) == ["body.address.province"]
        assert response.json()["errors"][0]["type"] == "unknown_province"
        assert await _customers_with_email(session, body["email"]) == 0

    async def test_amphoe_not_in_province_is_422(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        body = customer_body(address=bangkok_address(amphoe="เมืองเชียงใหม่"))
        response = await client.post(CUSTOMERS, json=body, headers=headers)
        assert response.status_code == 422
        assert _fields(response) == ["body.address.amphoe"]
        assert response.json()["errors"][0]["type"] == "amphoe_not_in_province"

    async def test_tambon_not_in_amphoe_is_422(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        # ศรีภูมิ is a tambon of Mueang Chiang Mai, not of Phra Nakhon.
        body = customer_body(address=bangkok_address(tambon="ศรีภูมิ"))
        response = await client.post(CUSTOMERS, json=body, headers=headers)
        assert response.status_code == 422
        assert _fields(response) == ["body.address.tambon"]
        assert response.json()["errors"][0]["type"] == "tambon_not_in_amphoe"
        assert await _customers_with_email(session, body["email"]) == 0

    async def test_postal_code_not_the_tambons_is_422(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        body = customer_body(address=bangkok_address(postal_code="50200"))
        response = await client.post(CUSTOMERS, json=body, headers=headers)
        assert response.status_code == 422
        assert _fields(response) == ["body.address.postal_code"]
        assert "10200" in response.json()["errors"][0]["message"]

    async def test_consent_flags_are_not_patched(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        created = await _create(client, headers)
        response = await client.patch(
            f"{CUSTOMERS}/{created['id']}",
            json={"marketing_consent": True},
            headers={**headers, "If-Match": '"0"'},
        )
        assert response.status_code == 422
        assert _fields(response) == ["body.marketing_consent"]

    async def test_null_for_a_required_field_is_422(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        created = await _create(client, headers)
        response = await client.patch(
            f"{CUSTOMERS}/{created['id']}",
            json={"email": None, "first_name": None},
            headers={**headers, "If-Match": '"0"'},
        )
        assert response.status_code == 422
        assert sorted(_fields(response)) == ["body.email", "body.first_name"]


class TestUniqueness:
    async def test_duplicate_national_id_is_409_until_the_first_is_deleted(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        pin = thai_pin(7)
        first = await _create(client, headers, national_id=pin)
        body = customer_body(national_id=f"{pin[:6]} {pin[6:]}")
        response = await client.post(CUSTOMERS, json=body, headers=headers)
        assert response.status_code == 409
        assert response.json()["type"] == "urn:polis:problem:national-id-exists"
        assert _fields(response) == ["body.national_id"]
        assert pin not in response.text
        assert await _customers_with_email(session, body["email"]) == 0
        # Soft delete frees the national id (partial unique index), not the email.
        assert (
            await client.delete(f"{CUSTOMERS}/{first['id']}", headers=headers)
        ).status_code == 204
        response = await client.post(CUSTOMERS, json=body, headers=headers)
        assert response.status_code == 201, response.text
        again = customer_body(email=first["email"], national_id=thai_pin(8))
        response = await client.post(CUSTOMERS, json=again, headers=headers)
        assert response.status_code == 409
        assert response.json()["type"] == "urn:polis:problem:email-exists"

    async def test_duplicate_email_ignores_case(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        first = await _create(client, headers)
        response = await client.post(
            CUSTOMERS,
            json=customer_body(email=first["email"].upper(), national_id=None),
            headers=headers,
        )
        assert response.status_code == 409
        assert _fields(response) == ["body.email"]

    async def test_patching_to_a_taken_national_id_is_409(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        pin = thai_pin(11)
        await _create(client, headers, national_id=pin)
        other = await _create(client, headers, national_id=thai_pin(12))
        response = await client.patch(
            f"{CUSTOMERS}/{other['id']}",
            json={"national_id": pin},
            headers={**headers, "If-Match": '"0"'},
        )
        assert response.status_code == 409
        version = await _count(
            session, "select version from motor.customers where id = :id", id=other["id"]
        )
        assert version == 0


class TestOptimisticLocking:
    async def test_missing_if_match_is_428(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        created = await _create(client, headers)
        response = await client.patch(
            f"{CUSTOMERS}/{created['id']}", json={"last_name": "ดีมาก"}, headers=headers
        )
        assert response.status_code == 428
        assert response.json()["type"] == "urn:polis:problem:precondition-required"
        star = await client.patch(
            f"{CUSTOMERS}/{created['id']}",
            json={"last_name": "ดีมาก"},
            headers={**headers, "If-Match": "*"},
        )
        assert star.status_code == 428
        bad = await client.patch(
            f"{CUSTOMERS}/{created['id']}",
            json={"last_name": "ดีมาก"},
            headers={**headers, "If-Match": "yesterday"},
        )
        assert bad.status_code == 400

    async def test_stale_if_match_is_409_and_writes_nothing(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        created = await _create(client, headers)
        cid = created["id"]
        first = await client.patch(
            f"{CUSTOMERS}/{cid}",
            json={"last_name": "ใจงาม"},
            headers={**headers, "If-Match": '"0"'},
        )
        assert first.status_code == 200
        assert first.headers["ETag"] == '"1"'
        audits = await _count(
            session, "select count(*) from audit.audit_log where record_id = :id", id=cid
        )
        stale = await client.patch(
            f"{CUSTOMERS}/{cid}",
            json={"last_name": "ใจร้าย", "national_id": thai_pin(21)},
            headers={**headers, "If-Match": '"0"'},
        )
        assert stale.status_code == 409
        assert stale.headers["content-type"] == "application/problem+json"
        assert stale.json()["type"] == "urn:polis:problem:stale-version"
        assert stale.json()["current_version"] == 1
        row = (
            await session.execute(
                text("select last_name, version, national_id from motor.customers where id = :id"),
                {"id": cid},
            )
        ).one()
        assert (row.last_name, row.version, row.national_id) == (
            "ใจงาม",
            1,
            created["national_id"],
        )
        after = await _count(
            session, "select count(*) from audit.audit_log where record_id = :id", id=cid
        )
        assert after == audits
        # A weak tag of the current version is accepted.
        ok = await client.patch(
            f"{CUSTOMERS}/{cid}",
            json={"last_name": "ใจร้าย"},
            headers={**headers, "If-Match": 'W/"1"'},
        )
        assert ok.status_code == 200
        assert ok.json()["version"] == 2

    async def test_stale_if_match_on_delete_is_409(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        created = await _create(client, headers)
        response = await client.delete(
            f"{CUSTOMERS}/{created['id']}", headers={**headers, "If-Match": '"5"'}
        )
        assert response.status_code == 409
        assert (
            await client.get(f"{CUSTOMERS}/{created['id']}", headers=headers)
        ).status_code == 200


class TestNationalIdSecrecy:
    async def test_never_in_plaintext_in_rows_audit_or_responses(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        pin = thai_pin(31)
        new_pin = thai_pin(32)
        create = await client.post(CUSTOMERS, json=customer_body(national_id=pin), headers=headers)
        assert create.status_code == 201
        cid = create.json()["id"]
        responses = [create]
        responses.append(await client.get(f"{CUSTOMERS}/{cid}", headers=headers))
        responses.append(await client.get(CUSTOMERS, params={"national_id": pin}, headers=headers))
        responses.append(
            await client.patch(
                f"{CUSTOMERS}/{cid}",
                json={"national_id": new_pin},
                headers={**headers, "If-Match": '"0"'},
            )
        )
        for response in responses:
            assert response.status_code == 200 or response.status_code == 201
            assert pin not in response.text
            assert new_pin not in response.text
        assert responses[-1].json()["national_id"] == "*********" + new_pin[-4:]
        row_text = await session.scalar(
            text("select c::text from motor.customers c where id = :id"), {"id": cid}
        )
        assert row_text is not None
        assert pin not in row_text and new_pin not in row_text
        audit_text = await session.scalar(
            text(
                "select string_agg(a::text, ' ') from audit.audit_log a"
                " where table_name = 'motor.customers' and record_id = :id"
            ),
            {"id": cid},
        )
        assert audit_text is not None
        assert pin not in audit_text and new_pin not in audit_text
        # What is stored decrypts to the new id and is found by its blind index.
        ring = get_keyring()
        stored = (
            await session.execute(
                text(
                    "select national_id_encrypted, national_id_hash, encryption_key_id"
                    " from motor.customers where id = :id"
                ),
                {"id": cid},
            )
        ).one()
        assert ring.decrypt(stored.national_id_encrypted) == new_pin
        assert stored.national_id_hash == ring.blind_index(new_pin)
        assert stored.encryption_key_id == ring.current


class TestList:
    async def test_filters_and_keyset_paging(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        pins = [thai_pin(40 + i) for i in range(3)]
        made = [await _create(client, headers, national_id=p) for p in pins]
        found = await client.get(CUSTOMERS, params={"national_id": pins[1]}, headers=headers)
        assert found.status_code == 200
        assert [c["id"] for c in found.json()["items"]] == [made[1]["id"]]
        by_email = await client.get(
            CUSTOMERS, params={"email": made[2]["email"].upper()}, headers=headers
        )
        assert [c["id"] for c in by_email.json()["items"]] == [made[2]["id"]]
        bad = await client.get(CUSTOMERS, params={"national_id": INVALID_PIN}, headers=headers)
        assert bad.status_code == 422
        assert _fields(bad) == ["query.national_id"]

        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 1, "kyc_status": "PENDING"}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get(CUSTOMERS, params=params, headers=headers)).json()
            seen += [c["id"] for c in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert {m["id"] for m in made} <= set(seen)
        assert len(seen) == len(set(seen))
        verified = await client.get(CUSTOMERS, params={"kyc_status": "VERIFIED"}, headers=headers)
        assert not {m["id"] for m in made} & {c["id"] for c in verified.json()["items"]}


class TestKyc:
    async def test_transitions_follow_the_table(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        created = await _create(client, headers)
        url = f"{CUSTOMERS}/{created['id']}"

        async def move(status: str, version: int) -> Response:
            return await client.patch(
                url, json={"kyc_status": status}, headers={**headers, "If-Match": f'"{version}"'}
            )

        assert (await move("REJECTED", 0)).status_code == 200
        refused = await move("VERIFIED", 1)
        assert refused.status_code == 409
        assert refused.json()["type"] == "urn:polis:problem:kyc-transition-refused"
        assert refused.json()["allowed"] == ["IN_PROGRESS", "PENDING"]
        assert (await move("PENDING", 1)).status_code == 200
        assert (await move("VERIFIED", 2)).json()["kyc_status"] == "VERIFIED"
        assert (await move("REJECTED", 3)).status_code == 409
        # A new national id needs a new verification.
        changed = await client.patch(
            url, json={"national_id": thai_pin(51)}, headers={**headers, "If-Match": '"3"'}
        )
        assert changed.status_code == 200
        assert changed.json()["kyc_status"] == "PENDING"


class TestConsents:
    async def test_grant_withdraw_refuse(self, client: AsyncClient, session: AsyncSession) -> None:
        user, headers = await signed_in(client, session, role="AGENT")
        created = await _create(client, headers, marketing_consent=True, consent_channel="PAPER")
        assert created["marketing_consent"] is True
        cid = created["id"]
        url = f"{CUSTOMERS}/{cid}/consents"
        listed = (await client.get(url, headers=headers)).json()["items"]
        assert [(r["consent_type"], r["granted"], r["channel"]) for r in listed] == [
            ("MARKETING", True, "PAPER")
        ]

        withdraw = await client.post(
            url,
            json={"consent_type": "MARKETING", "granted": False, "channel": "CALL_CENTER"},
            headers={**headers, "User-Agent": "call-centre-console/2"},
        )
        assert withdraw.status_code == 200, withdraw.text
        record = withdraw.json()
        assert record["id"] == listed[0]["id"]
        assert record["granted"] is True
        assert record["withdrawn_at"] is not None
        assert record["withdrawal_channel"] == "CALL_CENTER"
        assert record["withdrawn_at"] >= record["granted_at"]
        customer = (await client.get(f"{CUSTOMERS}/{cid}", headers=headers)).json()
        assert customer["marketing_consent"] is False
        assert customer["version"] == 1
        db = (
            await session.execute(
                text(
                    "select withdrawn_at is not null as withdrawn, withdrawal_channel"
                    " from motor.consent_records where id = :id"
                ),
                {"id": record["id"]},
            )
        ).one()
        assert db.withdrawn and db.withdrawal_channel == "CALL_CENTER"

        refusal = await client.post(
            url, json={"consent_type": "SMS", "granted": False, "channel": "WEB"}, headers=headers
        )
        assert refusal.status_code == 201
        assert refusal.json()["granted"] is False
        assert refusal.json()["withdrawn_at"] is None
        assert refusal.json()["recorded_by"] == str(user.id)
        assert refusal.json()["ip_address"] == "127.0.0.1"

        grant = await client.post(
            url,
            json={
                "consent_type": "MARKETING",
                "granted": True,
                "channel": "MOBILE",
                "consent_text_version": "2.1",
                "evidence": {"form_id": "APP-42"},
            },
            headers=headers,
        )
        assert grant.status_code == 201
        assert grant.json()["consent_text_version"] == "2.1"
        customer = (await client.get(f"{CUSTOMERS}/{cid}", headers=headers)).json()
        assert customer["marketing_consent"] is True
        assert customer["sms_notifications"] is False
        assert customer["version"] == 3

        items = (await client.get(url, headers=headers)).json()["items"]
        assert [(r["consent_type"], r["granted"], r["withdrawn_at"] is None) for r in items] == [
            ("MARKETING", True, True),
            ("SMS", False, True),
            ("MARKETING", True, False),
        ]
        only = (await client.get(url, params={"consent_type": "SMS"}, headers=headers)).json()[
            "items"
        ]
        assert [r["consent_type"] for r in only] == ["SMS"]
        assert (
            await _count(
                session,
                "select count(*) from motor.consent_records where customer_id = :id",
                id=cid,
            )
            == 3
        )

    async def test_bad_consent_is_422(self, client: AsyncClient, session: AsyncSession) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        created = await _create(client, headers)
        response = await client.post(
            f"{CUSTOMERS}/{created['id']}/consents",
            json={"consent_type": "TELEPATHY", "granted": True, "channel": "FAX"},
            headers=headers,
        )
        assert response.status_code == 422
        assert sorted(_fields(response)) == ["body.channel", "body.consent_type"]


class TestPermissions:
    async def test_roles(self, client: AsyncClient, session: AsyncSession) -> None:
        _, agent = await signed_in(client, session, role="AGENT")
        created = await _create(client, agent)
        _, customer = await signed_in(client, session, role="CUSTOMER")
        assert (await client.get(CUSTOMERS, headers=customer)).status_code == 403
        assert (
            await client.post(CUSTOMERS, json=customer_body(), headers=customer)
        ).status_code == 403
        _, surveyor = await signed_in(client, session, role="SURVEYOR")
        assert (
            await client.get(f"{CUSTOMERS}/{created['id']}", headers=surveyor)
        ).status_code == 200
        denied = await client.patch(
            f"{CUSTOMERS}/{created['id']}",
            json={"last_name": "x"},
            headers={**surveyor, "If-Match": '"0"'},
        )
        assert denied.status_code == 403
        assert (await client.get(CUSTOMERS)).status_code == 401
