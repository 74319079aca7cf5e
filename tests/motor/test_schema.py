"""Motor schema (migration 0005_motor): models agree with it, seed CHECKs and unique indexes
hold, payments are partitioned with globally unique ids, PDPA export and anonymisation."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from sqlalchemy import insert, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import configure_mappers

from polis.db import migrate
from polis.db.base import Base, load_all_models
from polis.motor.models import (
    ClaimSettlement,
    ConsentRecord,
    Customer,
    CustomerDocument,
    CustomerVehicle,
    MotorClaim,
    MotorPayment,
    MotorPolicy,
    PaymentReceipt,
    PaymentTransaction,
)

# --- factories ---------------------------------------------------------------------------


async def _insert(conn: AsyncConnection, table: Any, values: dict[str, Any]) -> uuid.UUID:
    row_id: uuid.UUID = (
        await conn.execute(insert(table).values(**values).returning(table.id))
    ).scalar_one()
    return row_id


async def make_customer(conn: AsyncConnection, **over: Any) -> uuid.UUID:
    values = {
        "email": f"c{uuid.uuid4().hex[:10]}@example.co.th",
        "first_name": "สมชาย",
        "last_name": "ใจดี",
        "phone_number": "0812345678",
        "address": {"province": "กรุงเทพมหานคร", "postal_code": "10200"},
    } | over
    return await _insert(conn, Customer, values)


async def make_vehicle(conn: AsyncConnection, customer_id: uuid.UUID, **over: Any) -> uuid.UUID:
    values = {
        "customer_id": customer_id,
        "registration_number": f"1กข {uuid.uuid4().int % 10000}",
        "province": "กรุงเทพมหานคร",
        "make": "TOYOTA",
        "model": "YARIS",
        "year_of_manufacture": 2020,
        "vehicle_type": "SEDAN",
        "fuel_type": "GASOLINE",
        "chassis_number": "MR0ABC12345678901",
    } | over
    return await _insert(conn, CustomerVehicle, values)


async def make_policy(
    conn: AsyncConnection, customer_id: uuid.UUID, vehicle_id: uuid.UUID, **over: Any
) -> uuid.UUID:
    values = {
        "policy_number": f"POL-{uuid.uuid4().hex[:12]}",
        "customer_id": customer_id,
        "vehicle_id": vehicle_id,
        "policy_type": "CMI",
        "coverage_details": {"medical_per_person": "80000.00"},
        "base_premium": Decimal("600.00"),
        "discounts": Decimal("0.00"),
        "fees": Decimal("45.21"),
        "total_premium": Decimal("645.21"),
        "start_date": date(2026, 1, 1),
        "end_date": date(2027, 1, 1),
        "status": "ACTIVE",
    } | over
    return await _insert(conn, MotorPolicy, values)


async def make_claim(conn: AsyncConnection, policy_id: uuid.UUID, **over: Any) -> uuid.UUID:
    values = {
        "claim_number": f"CLM-{uuid.uuid4().hex[:12]}",
        "policy_id": policy_id,
        "incident_date": datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
        "reported_date": datetime(2026, 3, 1, 10, 0, tzinfo=UTC),
        "claim_type": "ACCIDENT",
        "incident_description": "Rear-ended at a junction",
    } | over
    return await _insert(conn, MotorClaim, values)


async def make_payment(conn: AsyncConnection, customer_id: uuid.UUID, **over: Any) -> uuid.UUID:
    values = {
        "customer_id": customer_id,
        "payment_type": "PREMIUM",
        "amount": Decimal("645.21"),
        "fees": Decimal("0.00"),
        "total_amount": Decimal("645.21"),
        "payment_method": "PROMPTPAY",
        "created_at": datetime(2025, 1, 15, 9, 30, tzinfo=UTC),
    } | over
    return await _insert(conn, MotorPayment, values)


async def refused(conn: AsyncConnection, statement: Any, constraint: str) -> None:
    """The statement fails, naming `constraint`; the test transaction stays usable."""
    with pytest.raises(DBAPIError) as caught:
        async with conn.begin_nested():
            await conn.execute(statement)
    assert constraint in str(caught.value)


async def accepted(conn: AsyncConnection, statement: Any) -> None:
    async with conn.begin_nested():
        await conn.execute(statement)


# --- models and migration ----------------------------------------------------------------


def _in_motor(item: Any) -> bool:
    if isinstance(item, list):
        return any(_in_motor(i) for i in item)
    for part in item[1:]:
        if part == "motor" or getattr(part, "schema", None) == "motor":
            return True
        if getattr(getattr(part, "table", None), "schema", None) == "motor":
            return True
    return False


def test_models_match_the_motor_schema(db_url: str) -> None:
    assert [d for d in migrate.diff(db_url) if _in_motor(d)] == []


def test_mappers_configure_beside_every_other_domain() -> None:
    load_all_models()
    configure_mappers()
    names = [m.class_.__name__ for m in Base.registry.mappers]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []


def test_every_seed_table_and_column_exists(db_url: str, shared_dir: Any) -> None:
    inventory = json.loads((shared_dir / "seed-inventory.json").read_text())
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "select table_name, column_name from information_schema.columns"
            " where table_schema = 'motor'"
        ).fetchall()
    have = {(t, c) for t, c in rows}
    for qualified, spec in inventory.items():
        schema, table = qualified.split(".")
        if schema != "motor":
            continue
        missing = [c for c in spec["columns"] if (table, c) not in have]
        assert missing == [], f"{qualified} lacks {missing}"
    tables = {t for t, _ in have}
    assert {"customer_documents", "consent_records", "payment_transactions"} <= tables
    assert {"claim_settlements", "payment_registry"} <= tables


def test_downgrade_and_upgrade_with_motor_rows(create_database: Callable[[], str]) -> None:
    url = create_database()
    migrate.upgrade(url, "0005_motor")
    with psycopg.connect(url) as conn:
        cid = conn.execute(
            "insert into motor.customers (email, first_name, last_name)"
            " values ('x@example.com', 'X', 'Y') returning id"
        ).fetchone()
        assert cid is not None
        pid = conn.execute(
            "insert into motor.payments (customer_id, payment_type, amount, total_amount,"
            " payment_method, created_at) values (%s, 'PREMIUM', 10, 10, 'CASH', '2031-05-01')"
            " returning id",
            (cid[0],),
        ).fetchone()
        assert pid is not None
        conn.execute(
            "insert into motor.payment_receipts (payment_id, receipt_number, receipt_type)"
            " values (%s, 'R-1', 'RECEIPT')",
            (pid[0],),
        )
    migrate.downgrade(url, "0004_health")
    with psycopg.connect(url) as conn:
        left = conn.execute(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = 'motor'"
            " union all select p.proname from pg_proc p join pg_namespace n"
            " on n.oid = p.pronamespace where n.nspname = 'motor'"
        ).fetchall()
    assert left == []
    migrate.upgrade(url, "0005_motor")
    with psycopg.connect(url) as conn:
        row = conn.execute("select count(*) from motor.payments_default").fetchone()
    assert row == (0,)


# --- seed CHECKs ---------------------------------------------------------------------------


class TestPolicyChecks:
    async def test_premium_must_equal_base_less_discounts_plus_fees(
        self, connection: AsyncConnection
    ) -> None:
        cid = await make_customer(connection)
        vid = await make_vehicle(connection, cid)
        base = {
            "policy_number": "P-PREMIUM-1",
            "customer_id": cid,
            "vehicle_id": vid,
            "policy_type": "CLASS_1",
            "coverage_details": {},
            "base_premium": Decimal("18000.00"),
            "discounts": Decimal("3600.00"),
            "fees": Decimal("1080.72"),
            "start_date": date(2026, 1, 1),
            "end_date": date(2027, 1, 1),
            "status": "DRAFT",
        }
        await refused(
            connection,
            insert(MotorPolicy).values(**base, total_premium=Decimal("15480.71")),
            "chk_policy_premium_calculation",
        )
        await accepted(
            connection, insert(MotorPolicy).values(**base, total_premium=Decimal("15480.72"))
        )
        # NULL discounts and fees count as zero.
        await accepted(
            connection,
            insert(MotorPolicy).values(
                **(base | {"policy_number": "P-PREMIUM-2", "discounts": None, "fees": None}),
                total_premium=Decimal("18000.00"),
            ),
        )
        stored = await connection.scalar(
            text("select total_premium from motor.policies where policy_number = 'P-PREMIUM-1'")
        )
        assert stored == Decimal("15480.72")

    async def test_end_date_must_follow_start_date(self, connection: AsyncConnection) -> None:
        cid = await make_customer(connection)
        vid = await make_vehicle(connection, cid)
        pid = await make_policy(connection, cid, vid)
        await refused(
            connection,
            update(MotorPolicy).where(MotorPolicy.id == pid).values(end_date=date(2026, 1, 1)),
            "chk_policy_dates",
        )
        await refused(
            connection,
            update(MotorPolicy)
            .where(MotorPolicy.id == pid)
            .values(no_claim_discount=Decimal("50.01")),
            "policies_no_claim_discount_check",
        )

    async def test_one_active_policy_per_vehicle(self, connection: AsyncConnection) -> None:
        cid = await make_customer(connection)
        vid = await make_vehicle(connection, cid)
        await make_policy(connection, cid, vid, status="EXPIRED")
        await make_policy(connection, cid, vid, status="ACTIVE")
        second = insert(MotorPolicy).values(
            policy_number="P-SECOND-ACTIVE",
            customer_id=cid,
            vehicle_id=vid,
            policy_type="CLASS_3",
            coverage_details={},
            base_premium=Decimal("2000.00"),
            total_premium=Decimal("2000.00"),
            start_date=date(2026, 6, 1),
            end_date=date(2027, 6, 1),
            status="ACTIVE",
        )
        await refused(connection, second, "idx_policies_vehicle_active")
        await accepted(connection, second.values(status="EXPIRED"))
        count = await connection.scalar(
            text("select count(*) from motor.policies where vehicle_id = :v"), {"v": vid}
        )
        assert count == 3


class TestVehicleChecks:
    async def test_registration_unique_among_non_deleted_vehicles(
        self, connection: AsyncConnection
    ) -> None:
        cid = await make_customer(connection)
        first = await make_vehicle(connection, cid, registration_number="1กข 1234")
        again = insert(CustomerVehicle).values(
            customer_id=cid,
            registration_number="1กข 1234",
            province="กรุงเทพมหานคร",
            make="HONDA",
            model="CITY",
            year_of_manufacture=2019,
            vehicle_type="SEDAN",
            fuel_type="GASOLINE",
        )
        await refused(connection, again, "idx_customer_vehicles_registration")
        # The same plate in another province is another vehicle.
        await accepted(connection, again.values(province="เชียงใหม่"))
        await connection.execute(
            update(CustomerVehicle)
            .where(CustomerVehicle.id == first)
            .values(deleted_at=datetime.now(UTC))
        )
        await accepted(connection, again)

    async def test_year_of_manufacture_bounds(self, connection: AsyncConnection) -> None:
        cid = await make_customer(connection)
        vid = await make_vehicle(connection, cid)
        next_year = datetime.now(UTC).year + 1
        stmt = update(CustomerVehicle).where(CustomerVehicle.id == vid)
        check = "customer_vehicles_year_of_manufacture_check"
        await refused(connection, stmt.values(year_of_manufacture=1949), check)
        await refused(connection, stmt.values(year_of_manufacture=next_year + 1), check)
        await accepted(connection, stmt.values(year_of_manufacture=next_year))
        await accepted(connection, stmt.values(year_of_manufacture=1950))


class TestClaimChecks:
    async def test_claim_dates(self, connection: AsyncConnection) -> None:
        cid = await make_customer(connection)
        pid = await make_policy(connection, cid, await make_vehicle(connection, cid))
        clm = await make_claim(connection, pid)
        stmt = update(MotorClaim).where(MotorClaim.id == clm)
        await refused(
            connection,
            stmt.values(reported_date=datetime(2026, 2, 28, 23, 0, tzinfo=UTC)),
            "chk_claim_dates",
        )
        await refused(connection, stmt.values(settlement_date=date(2026, 2, 28)), "chk_claim_dates")
        await refused(connection, stmt.values(assessment_date=date(2026, 2, 1)), "chk_claim_dates")
        await accepted(connection, stmt.values(settlement_date=date(2026, 3, 1)))
        await refused(
            connection, stmt.values(approved_amount=Decimal("-0.01")), "chk_claim_amounts"
        )


class TestPaymentChecks:
    async def test_total_is_amount_plus_fees(self, connection: AsyncConnection) -> None:
        cid = await make_customer(connection)
        values = {
            "customer_id": cid,
            "payment_type": "PREMIUM",
            "amount": Decimal("1000.00"),
            "fees": Decimal("15.50"),
            "payment_method": "CREDIT_CARD",
        }
        await refused(
            connection,
            insert(MotorPayment).values(**values, total_amount=Decimal("1015.49")),
            "chk_payment_amounts",
        )
        pid = await _insert(connection, MotorPayment, values | {"total_amount": Decimal("1015.50")})
        total = await connection.scalar(
            text("select total_amount from motor.payments where id = :p"), {"p": pid}
        )
        assert total == Decimal("1015.50")

    @pytest.mark.parametrize(
        ("number", "total", "refused_by"),
        [
            (None, None, None),
            (1, 6, None),
            (6, 6, None),
            (7, 6, "chk_payment_installments"),
            (0, 6, "chk_payment_installments"),
            (1, None, "chk_payment_installments_pair"),
            (None, 6, "chk_payment_installments_pair"),
        ],
    )
    async def test_installments(
        self,
        connection: AsyncConnection,
        number: int | None,
        total: int | None,
        refused_by: str | None,
    ) -> None:
        cid = await make_customer(connection)
        stmt = insert(MotorPayment).values(
            customer_id=cid,
            payment_type="INSTALLMENT",
            amount=Decimal("100.00"),
            total_amount=Decimal("100.00"),
            payment_method="PROMPTPAY",
            installment_number=number,
            total_installments=total,
        )
        if refused_by is None:
            await accepted(connection, stmt)
        else:
            await refused(connection, stmt, refused_by)


# --- sensitive ids -------------------------------------------------------------------------


async def test_national_id_unique_by_blind_index_not_by_mask(connection: AsyncConnection) -> None:
    digest = "ab" * 32
    enc = {
        "national_id": "*********5635",
        "national_id_encrypted": b"dev1$" + bytes(28),
        "national_id_hash": digest,
        "encryption_key_id": "dev1",
    }
    first = await make_customer(connection, **enc)
    # Masks collide freely; only the blind index is unique.
    await make_customer(connection, **(enc | {"national_id_hash": "cd" * 32}))
    await refused(
        connection,
        insert(Customer).values(email="dup@example.com", first_name="A", last_name="B", **enc),
        "idx_customers_national_id_hash",
    )
    await refused(
        connection,
        insert(Customer).values(
            email="half@example.com", first_name="A", last_name="B", national_id_hash="ef" * 32
        ),
        "chk_customers_national_id_encryption",
    )
    await connection.execute(
        update(Customer).where(Customer.id == first).values(deleted_at=datetime.now(UTC))
    )
    await accepted(
        connection,
        insert(Customer).values(email="again@example.com", first_name="A", last_name="B", **enc),
    )


# --- partitions and the payment registry ---------------------------------------------------


async def _partition_of(conn: AsyncConnection, payment_id: uuid.UUID) -> str:
    name: str = (
        await conn.execute(
            text("select tableoid::regclass::text from motor.payments where id = :p"),
            {"p": payment_id},
        )
    ).scalar_one()
    return name


class TestPaymentPartitions:
    async def test_any_date_inserts_and_a_new_partition_takes_its_strays(
        self, connection: AsyncConnection
    ) -> None:
        cid = await make_customer(connection)
        dec = await make_payment(connection, cid, created_at=datetime(2024, 12, 31, 20, tzinfo=UTC))
        mar = await make_payment(connection, cid, created_at=datetime(2027, 3, 10, tzinfo=UTC))
        far = await make_payment(connection, cid, created_at=datetime(2031, 1, 20, tzinfo=UTC))
        assert await _partition_of(connection, dec) == "motor.payments_y2024m12"
        assert await _partition_of(connection, mar) in (
            "motor.payments_y2027m03",
            "motor.payments_default",
        )
        assert await _partition_of(connection, far) == "motor.payments_default"
        audit_before = await connection.scalar(text("select count(*) from audit.audit_log"))

        await connection.execute(
            text("select public.create_monthly_partition('motor.payments', '2031-01-01')")
        )

        assert await _partition_of(connection, far) == "motor.payments_y2031m01"
        assert (
            await connection.scalar(
                text("select count(*) from motor.payments_default where id = :p"), {"p": far}
            )
            == 0
        )
        # The move is not a business change: registry entry kept, no audit row.
        assert await connection.scalar(
            text("select created_at from motor.payment_registry where payment_id = :p"),
            {"p": far},
        ) == datetime(2031, 1, 20, tzinfo=UTC)
        assert await connection.scalar(text("select count(*) from audit.audit_log")) == audit_before
        await accepted(
            connection,
            insert(PaymentReceipt).values(
                payment_id=far, receipt_number="RC-2031-1", receipt_type="RECEIPT"
            ),
        )

    async def test_ids_are_unique_across_partitions(self, connection: AsyncConnection) -> None:
        cid = await make_customer(connection)
        pid = await make_payment(connection, cid, created_at=datetime(2025, 2, 1, tzinfo=UTC))
        await refused(
            connection,
            insert(MotorPayment).values(
                id=pid,
                customer_id=cid,
                payment_type="FEE",
                amount=Decimal("1.00"),
                total_amount=Decimal("1.00"),
                payment_method="CASH",
                created_at=datetime(2025, 6, 1, tzinfo=UTC),
            ),
            "payment_registry_pkey",
        )
        await refused(
            connection,
            update(MotorPayment)
            .where(MotorPayment.id == pid)
            .values(created_at=datetime(2025, 3, 1, tzinfo=UTC)),
            "cannot change",
        )

    async def test_references_go_through_the_registry(self, connection: AsyncConnection) -> None:
        cid = await make_customer(connection)
        await refused(
            connection,
            insert(PaymentReceipt).values(
                payment_id=uuid.uuid4(), receipt_number="RC-UNKNOWN", receipt_type="RECEIPT"
            ),
            "payment_receipts_payment_id_fkey",
        )
        with_receipt = await make_payment(connection, cid)
        await connection.execute(
            insert(PaymentReceipt).values(
                payment_id=with_receipt, receipt_number="RC-KEEP", receipt_type="TAX_INVOICE"
            )
        )
        await refused(
            connection,
            text("delete from motor.payments where id = :p").bindparams(p=with_receipt),
            "payment_receipts_payment_id_fkey",
        )
        bare = await make_payment(connection, cid)
        await connection.execute(text("delete from motor.payments where id = :p"), {"p": bare})
        assert (
            await connection.scalar(
                text("select count(*) from motor.payment_registry where payment_id = :p"),
                {"p": bare},
            )
            == 0
        )


# --- the tables the seed only names ---------------------------------------------------------


async def test_settlement_and_gateway_event_rules(connection: AsyncConnection) -> None:
    cid = await make_customer(connection)
    clm = await make_claim(
        connection, await make_policy(connection, cid, await make_vehicle(connection, cid))
    )
    settle = {
        "settlement_number": "ST-1",
        "claim_id": clm,
        "payee_type": "REPAIR_SHOP",
        "payee_name": "อู่ช่างเอก",
        "gross_amount": Decimal("25000.00"),
        "deductible_amount": Decimal("2000.00"),
        "settlement_method": "BANK_TRANSFER",
    }
    await refused(
        connection,
        insert(ClaimSettlement).values(**settle, net_amount=Decimal("25000.00")),
        "chk_settlement_amounts",
    )
    await refused(
        connection,
        insert(ClaimSettlement).values(
            **settle, net_amount=Decimal("23000.00"), status="PAID", paid_at=datetime.now(UTC)
        ),
        "chk_settlement_approval",
    )
    await accepted(
        connection, insert(ClaimSettlement).values(**settle, net_amount=Decimal("23000.00"))
    )

    pay = await make_payment(connection, cid)
    event = {
        "payment_id": pay,
        "transaction_type": "WEBHOOK",
        "status": "SUCCESS",
        "gateway_provider": "sandbox",
        "gateway_reference": "evt_001",
        "signature_valid": True,
    }
    await accepted(connection, insert(PaymentTransaction).values(**event))
    await refused(
        connection,
        insert(PaymentTransaction).values(**event),
        "payment_transactions_gateway_provider_gateway_reference_key",
    )
    await accepted(
        connection, insert(PaymentTransaction).values(**(event | {"gateway_provider": "other"}))
    )


# --- audit and PDPA -------------------------------------------------------------------------


async def test_customer_update_audits_exactly_the_changed_fields(
    connection: AsyncConnection,
) -> None:
    cid = await make_customer(connection, updated_at=datetime(2025, 1, 1, tzinfo=UTC))
    await connection.execute(
        update(Customer)
        .where(Customer.id == cid)
        .values(phone_number="0899999999", first_name="สมหญิง", last_name="ใจดี")
    )
    rows = (
        await connection.execute(
            text(
                "select operation, changed_fields, old_values ->> 'phone_number' as old_phone,"
                " new_values ->> 'phone_number' as new_phone from audit.audit_log"
                " where table_name = 'motor.customers' and record_id = :c order by id"
            ),
            {"c": cid},
        )
    ).all()
    assert [r.operation for r in rows] == ["INSERT", "UPDATE"]
    # last_name was set to its own value: not a change.
    assert rows[1].changed_fields == ["first_name", "phone_number", "updated_at"]
    assert (rows[1].old_phone, rows[1].new_phone) == ("0812345678", "0899999999")


async def _audit_ops(conn: AsyncConnection, cid: uuid.UUID, op: str) -> list[Any]:
    return list(
        (
            await conn.execute(
                text(
                    "select user_id, business_context from audit.audit_log"
                    " where table_name = 'motor.customers' and record_id = :c and operation = :o"
                ),
                {"c": cid, "o": op},
            )
        ).all()
    )


async def _customer_with_history(conn: AsyncConnection) -> dict[str, uuid.UUID]:
    cid = await make_customer(
        conn,
        email="somchai.secret@example.co.th",
        national_id="*********5635",
        national_id_encrypted=b"dev1$" + bytes(30),
        national_id_hash="12" * 32,
        encryption_key_id="dev1",
        date_of_birth=date(1985, 4, 2),
    )
    vid = await make_vehicle(conn, cid)
    pol = await make_policy(conn, cid, vid)
    clm = await make_claim(conn, pol)
    pay = await make_payment(
        conn, cid, policy_id=pol, card_token="dev1$c2VjcmV0", card_last_four="4242"
    )
    other = await make_customer(conn)
    await make_payment(conn, other)
    doc = await _insert(
        conn,
        CustomerDocument,
        {
            "customer_id": cid,
            "document_type": "ID_CARD",
            "document_number": "*********5635",
            "document_number_encrypted": b"dev1$" + bytes(30),
            "original_filename": "somchai-id-card.jpg",
            "file_path": "customers/x/id.jpg",
            "file_size": 120_000,
            "mime_type": "image/jpeg",
            "sha256": "0f" * 32,
        },
    )
    consent = await _insert(
        conn,
        ConsentRecord,
        {
            "customer_id": cid,
            "consent_type": "MARKETING",
            "purpose": "Offers by SMS and e-mail",
            "granted": True,
            "channel": "WEB",
            "consent_text_version": "2026.1",
            "ip_address": "203.0.113.7",
            "user_agent": "Mozilla/5.0",
            "evidence": {"form": "web-signup"},
        },
    )
    return {
        "customer": cid,
        "vehicle": vid,
        "policy": pol,
        "claim": clm,
        "payment": pay,
        "document": doc,
        "consent": consent,
        "other": other,
    }


async def _leaks(conn: AsyncConnection, ids: dict[str, uuid.UUID]) -> int:
    """Audit rows of this customer's records that still hold a personal value."""
    count: int = await conn.scalar(
        text(
            "select count(*) from audit.audit_log where record_id = any(:ids)"
            " and (coalesce(old_values::text, '') || coalesce(new_values::text, ''))"
            " ~ '(somchai|203\\.0\\.113\\.7|1985-04-02|MR0ABC12345678901|\\*{9}5635|c2VjcmV0)'"
        ),
        {"ids": list(ids.values())},
    )
    return count


async def test_export_returns_the_customers_data_and_audits_it(
    connection: AsyncConnection,
) -> None:
    ids = await _customer_with_history(connection)
    raw = await connection.scalar(
        text("select motor.export_customer_data(:c)::text"), {"c": ids["customer"]}
    )
    data = json.loads(raw, parse_float=Decimal)
    assert data["customer"]["email"] == "somchai.secret@example.co.th"
    assert "national_id_encrypted" not in data["customer"]
    assert "national_id_hash" not in data["customer"]
    assert [v["id"] for v in data["vehicles"]] == [str(ids["vehicle"])]
    assert [p["id"] for p in data["policies"]] == [str(ids["policy"])]
    assert data["policies"][0]["total_premium"] == Decimal("645.21")
    assert [c["id"] for c in data["claims"]] == [str(ids["claim"])]
    assert [p["id"] for p in data["payments"]] == [str(ids["payment"])]  # not the other's
    assert "card_token" not in data["payments"][0]
    assert [d["id"] for d in data["documents"]] == [str(ids["document"])]
    assert [c["id"] for c in data["consents"]] == [str(ids["consent"])]
    rows = await _audit_ops(connection, ids["customer"], "EXPORT")
    assert [(r.user_id, r.business_context) for r in rows] == [
        (ids["customer"], "DATA_PORTABILITY")
    ]
    with pytest.raises(DBAPIError):
        async with connection.begin_nested():
            await connection.execute(
                text("select motor.export_customer_data(:c)"), {"c": uuid.uuid4()}
            )


async def test_anonymize_blanks_personal_data_and_keeps_financial_records(
    connection: AsyncConnection,
) -> None:
    ids = await _customer_with_history(connection)
    cid = ids["customer"]
    officer = uuid.uuid4()
    await connection.execute(
        text("select set_config('app.user_id', :u, true)"), {"u": str(officer)}
    )
    assert await _leaks(connection, ids) > 0
    assert await connection.scalar(text("select motor.anonymize_customer_data(:c)"), {"c": cid})

    c = (
        await connection.execute(text("select * from motor.customers where id = :c"), {"c": cid})
    ).one()
    assert c.email == f"anonymized_{cid}@deleted.local"
    assert (c.first_name, c.last_name) == ("ANONYMIZED", "DATA")
    assert c.phone_number is None and c.national_id is None and c.date_of_birth is None
    assert c.national_id_encrypted is None and c.national_id_hash is None
    assert c.address is None and c.deleted_at is not None and c.deleted_by == officer

    v = await connection.scalar(
        text("select chassis_number from motor.customer_vehicles where id = :v"),
        {"v": ids["vehicle"]},
    )
    assert v == "ANONYMIZED"
    d = (
        await connection.execute(
            text("select * from motor.customer_documents where id = :d"), {"d": ids["document"]}
        )
    ).one()
    assert d.original_filename == "ANONYMIZED" and d.document_number is None
    assert d.document_number_encrypted is None and d.deleted_at is not None
    cr = (
        await connection.execute(
            text("select * from motor.consent_records where id = :r"), {"r": ids["consent"]}
        )
    ).one()
    assert (cr.ip_address, cr.user_agent, cr.evidence) == (None, None, None)
    assert (cr.consent_type, cr.granted) == ("MARKETING", True)

    # Financial records stay whole.
    p = (
        await connection.execute(
            text("select total_premium, status from motor.policies where id = :p"),
            {"p": ids["policy"]},
        )
    ).one()
    assert (p.total_premium, p.status) == (Decimal("645.21"), "ACTIVE")
    pay = (
        await connection.execute(
            text(
                "select total_amount, card_last_four, card_token from motor.payments where id = :p"
            ),
            {"p": ids["payment"]},
        )
    ).one()
    assert (pay.total_amount, pay.card_last_four, pay.card_token) == (
        Decimal("645.21"),
        "4242",
        None,
    )
    assert (
        await connection.scalar(
            text("select count(*) from motor.claims where id = :c"), {"c": ids["claim"]}
        )
        == 1
    )

    assert [
        (r.user_id, r.business_context) for r in await _audit_ops(connection, cid, "ANONYMIZE")
    ] == [(officer, "RIGHT_TO_ERASURE")]
    # Erased values survive nowhere in the audit trail.
    assert await _leaks(connection, ids) == 0
    other = await connection.scalar(
        text("select first_name from motor.customers where id = :o"), {"o": ids["other"]}
    )
    assert other == "สมชาย"
    assert not await connection.scalar(
        text("select motor.anonymize_customer_data(:c)"), {"c": uuid.uuid4()}
    )
