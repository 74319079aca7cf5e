"""Motor payments API: staff confirmation (idempotent by reference, amount checked), reads,
PromptPay QR (bill payment with the payment reference, CRC verified, PNG)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from httpx import AsyncClient
from PIL import Image
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from polis.db.recording import recorded
from polis.motor import promptpay
from tests.motor.test_policies_api import (
    PAYMENTS,
    POLICIES,
    bound_policy,
    confirm,
    policy_status,
    scalar,
    staff,
)


async def _transactions(session: AsyncSession, payment_id: str) -> int:
    return int(
        await scalar(
            session,
            "select count(*) from motor.payment_transactions where payment_id = :p",
            p=payment_id,
        )
        or 0
    )


class TestConfirm:
    async def test_confirm_records_the_money(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await staff(client, session, role="AGENT")
        policy = await bound_policy(client, headers)
        payment = policy["payments"][0]
        paid_at = datetime(2026, 1, 5, 9, 30, tzinfo=UTC).isoformat()
        response = await confirm(
            client,
            headers,
            payment,
            "KBANK-20260105-77",
            method="BANK_TRANSFER",
            paid_at=paid_at,
            payment_channel="BANK",
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["payment_status"] == "SUCCESS"
        assert body["payment_method"] == "BANK_TRANSFER"
        assert body["payment_channel"] == "BANK"
        assert body["transaction_reference"] == "KBANK-20260105-77"
        assert body["payment_date"].startswith("2026-01-05T09:30")
        assert body["processed_at"] is not None
        assert body["total_amount"] == "645.21"
        assert body["version"] == 1
        assert await _transactions(session, payment["id"]) == 1
        row = (
            await session.execute(
                text(
                    "select transaction_type, status, gateway_provider, gateway_reference, amount"
                    " from motor.payment_transactions where payment_id = :p"
                ),
                {"p": payment["id"]},
            )
        ).one()
        assert tuple(row) == ("CONFIRM", "SUCCESS", "STAFF", "KBANK-20260105-77", Decimal("645.21"))
        assert await policy_status(session, policy["policy_number"]) == "ACTIVE"

    async def test_the_receipt_number_is_the_last_statement_of_a_confirmation(
        self, client: AsyncClient, session: AsyncSession, connection: AsyncConnection
    ) -> None:
        # The receipt counter is locked from the statement that takes the number until commit
        # (decisions 0049 and 0072): nothing follows it, whether the ORM or polis.db.raw sent
        # the statements before (decision 0073).
        headers = await staff(client, session)
        policy = await bound_policy(client, headers)
        payment = policy["payments"][0]
        async with recorded(connection) as seen:
            response = await confirm(
                client, headers, payment, "KBANK-LAST-1", payment_channel="BANK"
            )
        assert response.status_code == 200, response.text
        sent = [sql for sql in seen if "SAVEPOINT" not in sql.upper()]
        assert "receipt_number_counters" in sent[-1]
        assert sum("receipt_number_counters" in sql for sql in sent) == 1
        written = " ".join(sent[:-1])
        for statement in (
            "UPDATE motor.payments",
            "UPDATE motor.policies",
            "INSERT INTO motor.payment_transactions",
        ):
            assert statement in written
        payload = await scalar(
            session,
            "select request_payload from motor.payment_transactions where payment_id = :p",
            p=payment["id"],
        )
        assert payload == {
            "method": "PROMPTPAY",
            "reference": "KBANK-LAST-1",
            "paid_at": payload["paid_at"],
            "amount": "645.21",
            "payment_channel": "BANK",
        }

    async def test_same_reference_is_idempotent_other_reference_409(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await staff(client, session)
        policy = await bound_policy(client, headers)
        payment = policy["payments"][0]
        first = await confirm(client, headers, payment, "REF-1")
        assert first.status_code == 200
        again = await confirm(client, headers, payment, "REF-1")
        assert again.status_code == 200
        assert again.json() == first.json()
        assert await _transactions(session, payment["id"]) == 1
        other = await confirm(client, headers, payment, "REF-2")
        assert other.status_code == 409
        assert other.json()["transaction_reference"] == "REF-1"
        assert await _transactions(session, payment["id"]) == 1
        read = await client.get(f"{PAYMENTS}/{payment['id']}", headers=headers)
        assert read.json()["transaction_reference"] == "REF-1"
        assert read.json()["version"] == 1

    async def test_tampered_amount_is_422_and_writes_nothing(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await staff(client, session)
        policy = await bound_policy(client, headers)
        payment = policy["payments"][0]
        response = await confirm(client, headers, payment, amount="645.20")
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"] == [
            {
                "field": "body.amount",
                "message": "the amount due is 645.21, not 645.20",
                "type": "amount_mismatch",
            }
        ]
        read = (await client.get(f"{PAYMENTS}/{payment['id']}", headers=headers)).json()
        assert read["payment_status"] == "PENDING" and read["version"] == 0
        assert await _transactions(session, payment["id"]) == 0
        assert await policy_status(session, policy["policy_number"]) == "DRAFT"

    async def test_bad_confirmations_are_422(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await staff(client, session)
        policy = await bound_policy(client, headers)
        payment = policy["payments"][0]
        future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        response = await confirm(client, headers, payment, paid_at=future)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "body.paid_at"
        response = await confirm(client, headers, payment, method="BITCOIN")
        assert response.status_code == 422
        response = await confirm(client, headers, payment, amount="-1")
        assert response.status_code == 422
        assert await _transactions(session, payment["id"]) == 0

    async def test_unknown_payment_is_404(self, client: AsyncClient, session: AsyncSession) -> None:
        headers = await staff(client, session)
        missing = "00000000-0000-4000-8000-000000000000"
        assert (await client.get(f"{PAYMENTS}/{missing}", headers=headers)).status_code == 404
        response = await confirm(client, headers, {"id": missing, "total_amount": "1.00"}, "R")
        assert response.status_code == 404


class TestReads:
    async def test_policy_payments(self, client: AsyncClient, session: AsyncSession) -> None:
        headers = await staff(client, session)
        policy = await bound_policy(client, headers, "INSTALLMENT_12")
        response = await client.get(
            f"{POLICIES}/{policy['policy_number']}/payments", headers=headers
        )
        assert response.status_code == 200
        rows = response.json()
        assert [r["installment_number"] for r in rows] == list(range(1, 13))
        assert sum(Decimal(r["amount"]) for r in rows) == Decimal("645.21")
        # 64521 satang = 12 x 5376 + 9: the 9 satang go on the first
        assert rows[0]["amount"] == "53.85" and rows[1]["amount"] == "53.76"
        number = policy["policy_number"].replace("-", "")
        assert [r["reference"] for r in rows] == [f"{number}{i:02d}" for i in range(1, 13)]
        one = await client.get(f"{PAYMENTS}/{rows[4]['id']}", headers=headers)
        assert one.json() == rows[4]
        missing = await client.get(f"{POLICIES}/MTR-1900-00000000/payments", headers=headers)
        assert missing.status_code == 404


class TestPromptPay:
    async def test_payload_and_png(self, client: AsyncClient, session: AsyncSession) -> None:
        headers = await staff(client, session)
        policy = await bound_policy(client, headers, "INSTALLMENT_6")
        payment = policy["payments"][0]
        response = await client.get(f"{PAYMENTS}/{payment['id']}/promptpay", headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["amount"] == "107.56"
        assert body["reference"] == payment["reference"]
        assert body["biller_id"] == "010555000000101"
        payload = body["payload"]
        assert promptpay.verify_crc(payload)
        assert payload[-4:] == promptpay.crc_hex(payload[:-4])
        parsed = promptpay.parse(payload)
        assert parsed.kind == "bill_payment" and parsed.dynamic
        assert parsed.biller_id == "010555000000101"
        assert parsed.ref1 == payment["reference"]
        assert parsed.amount == Decimal("107.56")
        assert (parsed.currency, parsed.country) == ("764", "TH")

        png = await client.get(
            f"{PAYMENTS}/{payment['id']}/promptpay", params={"format": "png"}, headers=headers
        )
        assert png.status_code == 200
        assert png.headers["content-type"] == "image/png"
        image = Image.open(io.BytesIO(png.content))
        assert image.format == "PNG"
        assert image.size[0] == image.size[1] > 100

    async def test_biller_id_comes_from_configuration(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await staff(client, session)
        await session.execute(
            text(
                "update ref.system_configurations set config_value = '099400016150001'"
                " where config_key = 'MOTOR_PROMPTPAY_BILLER_ID'"
            )
        )
        policy = await bound_policy(client, headers)
        payment = policy["payments"][0]
        body = (await client.get(f"{PAYMENTS}/{payment['id']}/promptpay", headers=headers)).json()
        assert promptpay.parse(body["payload"]).biller_id == "099400016150001"

    async def test_paid_payment_has_no_qr(self, client: AsyncClient, session: AsyncSession) -> None:
        headers = await staff(client, session)
        policy = await bound_policy(client, headers)
        payment = policy["payments"][0]
        await confirm(client, headers, payment)
        response = await client.get(f"{PAYMENTS}/{payment['id']}/promptpay", headers=headers)
        assert response.status_code == 409
        assert response.json()["payment_status"] == "SUCCESS"
