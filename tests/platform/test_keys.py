"""Field encryption key rotation (`polis keys`, decision 0060) and plaintext hygiene.

Rotation commits batch by batch, so these tests use their own databases (a copy of a migrated
template per test), not the rolled-back test transaction.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from polis.db import migrate
from polis.platform.crypto import ENCRYPTED_TABLES, Keyring, keyring_from
from polis.platform.keys_cli import count_old, key_status, rotate, select_tables
from tests.iam.factories import signed_in
from tests.motor.test_customers_api import CUSTOMERS, INVALID_PIN, customer_body, thai_pin

KEY_A = "A:" + base64.b64encode(b"a" * 32).decode()
KEY_B = "B:" + base64.b64encode(b"b" * 32).decode()
KEY_Z = "Z:" + base64.b64encode(b"z" * 32).decode()
BLIND = base64.b64encode(b"i" * 32).decode()
RING_A = keyring_from(KEY_A, BLIND)
RING_BA = keyring_from(f"{KEY_B},{KEY_A}", BLIND)
RING_B = keyring_from(KEY_B, BLIND)  # B alone: proves nothing still needs A
RING_Z = keyring_from(KEY_Z, BLIND)


def _base(url: str) -> str:
    return url.rsplit("/", 1)[0]


@pytest.fixture(scope="module")
def template_db(create_database: Callable[[], str]) -> str:
    """A migrated database that each test copies."""
    url = create_database()
    migrate.upgrade(url)
    return url


@pytest.fixture
def keys_db(template_db: str, server_url: str) -> Iterator[str]:
    """A fresh copy of the migrated template for one test."""
    name = f"polis_keys_{uuid.uuid4().hex[:10]}"
    template = template_db.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'create database "{name}" template "{template}"')
    try:
        yield f"{_base(template_db)}/{name}"
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


def _connect(url: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("SET lock_timeout = '5s'")  # a rotation that waited on a lock fails, not hangs
    return conn


def seed(conn: psycopg.Connection[Any], ring: Keyring) -> dict[str, Any]:
    """Rows in every kind of encrypted table, sealed under `ring`; returns the plaintexts."""
    plain: dict[str, Any] = {"users": {}, "customers": {}, "members": {}, "payments": {}}
    with conn.transaction():
        for i in range(3):
            secret = base64.b32encode(random.randbytes(20)).decode()
            uid = conn.execute(
                "INSERT INTO iam.users (username, email, password_hash, first_name, last_name,"
                " role, two_factor_secret) VALUES (%s, %s, 'x', 'T', 'U', 'ADMIN', %s)"
                " RETURNING id",
                (f"rot{i}", f"rot{i}@x.test", ring.encrypt_text(secret)),
            ).fetchone()[0]
            plain["users"][uid] = secret
        conn.execute(
            "INSERT INTO iam.users (username, email, password_hash, first_name, last_name, role)"
            " VALUES ('no2fa', 'no2fa@x.test', 'x', 'T', 'U', 'AGENT')"
        )
        for i in range(7):
            pin = thai_pin(1000 + i)
            s = ring.seal(pin)
            cid = conn.execute(
                "INSERT INTO motor.customers (email, first_name, last_name, national_id,"
                " national_id_encrypted, national_id_hash, encryption_key_id)"
                " VALUES (%s, 'ก', 'ข', %s, %s, %s, %s) RETURNING id",
                (f"c{i}@x.test", s.masked, s.ciphertext, s.blind_index, s.key_id),
            ).fetchone()[0]
            plain["customers"][cid] = (pin, s.blind_index)
        for i in range(2):
            nik, passport = f"31710145069{i:05d}", f"X{i:07d}" if i else None
            n = ring.seal(nik)
            p = ring.seal(passport) if passport else None
            mid = conn.execute(
                "INSERT INTO member.member (member_number, first_name, last_name, birth_date,"
                " gender, enrollment_date, national_id, national_id_encrypted, national_id_hash,"
                " passport_number, passport_number_encrypted, passport_number_hash,"
                " encryption_key_id) VALUES (%s, 'M', 'N', '1990-01-01', 'male', '2024-01-01',"
                " %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (
                    f"M{i}",
                    n.masked,
                    n.ciphertext,
                    n.blind_index,
                    p.masked if p else None,
                    p.ciphertext if p else None,
                    p.blind_index if p else None,
                    ring.current,
                ),
            ).fetchone()[0]
            plain["members"][mid] = (nik, passport)
        conn.execute(
            "INSERT INTO provider.provider (provider_code, provider_name, provider_type,"
            " bank_account, bank_account_encrypted, encryption_key_id)"
            " VALUES ('P1', 'RS', 'hospital', '****7890', %s, %s)",
            (ring.encrypt("1234567890"), ring.current),
        )
        first = next(iter(plain["customers"]))
        for i in range(4):
            token, account = f"tok_{uuid.uuid4().hex}", f"99887766{i:02d}"
            pid, created = conn.execute(
                "INSERT INTO motor.payments (customer_id, payment_type, amount, total_amount,"
                " payment_method, card_token, bank_account_number_encrypted, created_at)"
                " VALUES (%s, 'PREMIUM', 100, 100, 'CREDIT_CARD', %s, %s,"
                " now() - make_interval(days => %s)) RETURNING id, created_at",
                (first, ring.encrypt_text(token), ring.encrypt(account), 40 * i),
            ).fetchone()
            plain["payments"][(pid, created)] = (token, account)
    return plain


def all_values(conn: psycopg.Connection[Any]) -> list[tuple[str, str, Any]]:
    """(table, column, value) of every non-NULL encrypted value."""
    out = []
    for table in ENCRYPTED_TABLES:
        for col in table.columns:
            for (value,) in conn.execute(
                f"SELECT {col.name} FROM {table.table} WHERE {col.name} IS NOT NULL"
            ):
                out.append((table.table, col.name, value))
    return out


def kid_of(value: Any) -> str:
    return (
        value.split("$", 1)[0] if isinstance(value, str) else bytes(value).split(b"$")[0].decode()
    )


def test_the_registry_lists_every_encrypted_column(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        found = set(
            conn.execute(
                "SELECT n.nspname || '.' || c.relname, a.attname"
                " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND a.attnum > 0"
                " AND NOT a.attisdropped"
                " AND (a.attname LIKE '%\\_encrypted' OR a.attname IN"
                " ('card_token', 'two_factor_secret'))"
            ).fetchall()
        )
        keys = {
            t: [
                r[0]
                for r in conn.execute(
                    "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
                    " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
                    " WHERE i.indrelid = %s::regclass AND i.indisprimary"
                    " ORDER BY array_position(i.indkey, a.attnum)",
                    (t,),
                )
            ]
            for t in {t.table for t in ENCRYPTED_TABLES}
        }
    registered = {(t.table, c.name) for t in ENCRYPTED_TABLES for c in t.columns}
    assert registered == found
    for table in ENCRYPTED_TABLES:
        assert list(table.key) == keys[table.table], table.table


def test_rotate_moves_every_value_to_the_current_key(keys_db: str) -> None:
    with _connect(keys_db) as conn:
        plain = seed(conn, RING_A)
        before = {(t, c): v for t, c, v in all_values(conn)}
        status = key_status(conn)
        assert {k for _, _, k, _ in status} == {"A"}
        assert sum(n for *_, n in status) == 3 + 7 + 3 + 1 + 4 + 4  # 22 values
        assert count_old(conn, RING_BA) == 22

        progress: list[tuple[str, int, int]] = []
        report = rotate(conn, RING_BA, batch=2, progress=lambda *a: progress.append(a))
        assert report.values == 22
        assert report.failed == 0 and report.remaining == 0
        assert report.rows["motor.customers"] == 7 and report.rows["iam.users"] == 3
        assert ("motor.customers", 1, 7) in progress  # 2 + 2 + 2 + 1
        assert {k for _, _, k, _ in key_status(conn)} == {"B"}
        assert all(kid_of(v) == "B" for _, _, v in all_values(conn))

        # Same plaintext, readable with key B alone; blind indexes and masks untouched.
        for uid, secret in plain["users"].items():
            (value,) = conn.execute(
                "SELECT two_factor_secret FROM iam.users WHERE id = %s", (uid,)
            ).fetchone()
            assert RING_B.decrypt_text(value) == secret
        for cid, (pin, digest) in plain["customers"].items():
            enc, hsh, kid, masked = conn.execute(
                "SELECT national_id_encrypted, national_id_hash, encryption_key_id, national_id"
                " FROM motor.customers WHERE id = %s",
                (cid,),
            ).fetchone()
            assert (RING_B.decrypt(enc), hsh, kid, masked) == (
                pin,
                digest,
                "B",
                "*********" + pin[-4:],
            )
        for mid, (nik, passport) in plain["members"].items():
            n, p, kid = conn.execute(
                "SELECT national_id_encrypted, passport_number_encrypted, encryption_key_id"
                " FROM member.member WHERE id = %s",
                (mid,),
            ).fetchone()
            assert RING_B.decrypt(n) == nik and kid == "B"
            assert (RING_B.decrypt(p) if p is not None else None) == passport
        for (pid, created), (token, account) in plain["payments"].items():
            tok, acc = conn.execute(
                "SELECT card_token, bank_account_number_encrypted FROM motor.payments"
                " WHERE id = %s AND created_at = %s",
                (pid, created),
            ).fetchone()
            assert (RING_B.decrypt_text(tok), RING_B.decrypt(acc)) == (token, account)
        acc, kid = conn.execute(
            "SELECT bank_account_encrypted, encryption_key_id FROM provider.provider"
        ).fetchone()
        assert (RING_B.decrypt(acc), kid) == ("1234567890", "B")
        # The user without 2FA stays NULL.
        assert conn.execute(
            "SELECT two_factor_secret FROM iam.users WHERE username = 'no2fa'"
        ).fetchone() == (None,)

        # The audit trail says why the rows changed, and holds no plaintext.
        contexts = conn.execute(
            "SELECT DISTINCT business_context FROM audit.audit_log WHERE operation = 'UPDATE'"
        ).fetchall()
        assert contexts == [("key rotation",)]
        audit_text = " ".join(
            str(r) for r in conn.execute("SELECT old_values, new_values FROM audit.audit_log")
        )
        for pin, _ in plain["customers"].values():
            assert pin not in audit_text
        assert {(t, c): v for t, c, v in all_values(conn)} != before

        # A second run has nothing to do and changes nothing (idempotent).
        after = all_values(conn)
        again = rotate(conn, RING_BA, batch=2)
        assert (again.values, again.remaining, sum(again.rows.values())) == (0, 0, 0)
        assert all_values(conn) == after


def test_locked_rows_are_skipped_and_the_next_run_finishes_them(keys_db: str) -> None:
    with _connect(keys_db) as conn, psycopg.connect(keys_db) as holder:
        plain = seed(conn, RING_A)
        locked = list(plain["customers"])[3]
        # A running request holds one customer row (its transaction stays open).
        holder.execute("SELECT 1 FROM motor.customers WHERE id = %s FOR UPDATE", (locked,))

        report = rotate(conn, RING_BA, batch=3, tables=select_tables(["motor.customers"]))
        assert report.rows["motor.customers"] == 6
        assert report.remaining == 1
        rows = dict(conn.execute("SELECT id, encryption_key_id FROM motor.customers").fetchall())
        assert rows.pop(locked) == "A"
        assert set(rows.values()) == {"B"}

        holder.rollback()  # the request ends
        report = rotate(conn, RING_BA, batch=3, tables=select_tables(["motor.customers"]))
        assert (report.rows["motor.customers"], report.remaining) == (1, 0)
        enc, kid = conn.execute(
            "SELECT national_id_encrypted, encryption_key_id FROM motor.customers WHERE id = %s",
            (locked,),
        ).fetchone()
        assert (RING_B.decrypt(enc), kid) == (plain["customers"][locked][0], "B")


def test_a_concurrent_writer_loses_nothing(keys_db: str) -> None:
    with _connect(keys_db) as conn:
        plain = seed(conn, RING_A)
        ids = list(plain["customers"])
        expected = {cid: pin for cid, (pin, _) in plain["customers"].items()}
        stop = threading.Event()
        errors: list[BaseException] = []

        def writer() -> None:
            # The service, meanwhile, changes national ids (under the current key B).
            try:
                with psycopg.connect(keys_db, autocommit=True) as w:
                    n = 0
                    while not stop.is_set() or n < 10:
                        cid = ids[n % len(ids)]
                        pin = thai_pin(5000 + n)
                        s = RING_BA.seal(pin)
                        with w.transaction():
                            w.execute(
                                "SELECT 1 FROM motor.customers WHERE id = %s FOR UPDATE", (cid,)
                            )
                            w.execute(
                                "UPDATE motor.customers SET national_id = %s,"
                                " national_id_encrypted = %s, national_id_hash = %s,"
                                " encryption_key_id = %s WHERE id = %s",
                                (s.masked, s.ciphertext, s.blind_index, s.key_id, cid),
                            )
                            expected[cid] = pin
                        n += 1
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            tables = select_tables(["motor.customers"])
            for _ in range(5):
                rotate(conn, RING_BA, batch=1, tables=tables)
        finally:
            stop.set()
            thread.join(30)
        assert not errors
        final = rotate(conn, RING_BA, batch=1, tables=tables)
        assert final.remaining == 0
        for cid, enc, kid in conn.execute(
            "SELECT id, national_id_encrypted, encryption_key_id FROM motor.customers"
        ):
            assert (RING_B.decrypt(enc), kid) == (expected[cid], "B")


def test_a_value_no_key_opens_is_left_alone_and_reported(keys_db: str) -> None:
    with _connect(keys_db) as conn:
        seed(conn, RING_A)
        foreign = RING_Z.encrypt("0000000000")
        conn.execute("UPDATE provider.provider SET bank_account_encrypted = %s", (foreign,))
        report = rotate(conn, RING_BA, tables=select_tables(["provider.provider"]))
        assert (report.failed, report.remaining, report.values) == (1, 1, 0)
        acc, kid = conn.execute(
            "SELECT bank_account_encrypted, encryption_key_id FROM provider.provider"
        ).fetchone()
        assert bytes(acc) == foreign and kid == "A"  # untouched, key id not claimed
        assert ("provider.provider", "bank_account_encrypted", "Z", 1) in key_status(conn)


def test_status_never_shows_a_plaintext(keys_db: str) -> None:
    with _connect(keys_db) as conn:
        conn.execute(
            "INSERT INTO iam.users (username, email, password_hash, first_name, last_name, role,"
            " two_factor_secret) VALUES ('plain', 'p@x.test', 'x', 'T', 'U', 'ADMIN',"
            " 'JBSWY3DPEHPK3PXP')"
        )
        assert key_status(conn, select_tables(["iam.users"])) == [
            ("iam.users", "two_factor_secret", "(malformed)", 1)
        ]
        report = rotate(conn, RING_BA, tables=select_tables(["iam.users"]))
        assert (report.failed, report.remaining) == (1, 1)


def test_unknown_table_is_refused() -> None:
    with pytest.raises(ValueError, match=r"no encrypted table motor\.nothing"):
        select_tables(["motor.nothing"])


def test_cli_status_and_rotate(keys_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from polis.cli import app
    from polis.config import get_settings
    from polis.platform.crypto import get_keyring

    with _connect(keys_db) as conn:
        plain = seed(conn, RING_A)
    monkeypatch.setenv("DATABASE_URL", keys_db)
    monkeypatch.setenv("ENCRYPTION_KEYS", f"{KEY_B},{KEY_A}")
    monkeypatch.setenv("BLIND_INDEX_KEY", BLIND)
    get_settings.cache_clear()
    get_keyring.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(app, ["keys", "status", "--json"])
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        assert data["current_key_id"] == "B"
        assert {c["key_id"] for c in data["columns"]} == {"A"}

        result = runner.invoke(
            app, ["keys", "rotate", "--batch", "5", "--table", "motor.customers"]
        )
        assert result.exit_code == 0, result.output
        assert "current key id: B; 7 values under other keys" in result.output
        assert "motor.customers: 5 rows re-encrypted (5 so far)" in result.output
        assert "re-encrypted 7 values in 7 rows" in result.output

        result = runner.invoke(app, ["keys", "rotate", "--table", "nope"])
        assert result.exit_code == 1 and "no encrypted table nope" in result.output

        result = runner.invoke(app, ["keys", "status"])
        assert result.exit_code == 0
        assert "motor.customers.national_id_encrypted\tB\t7\tcurrent" in result.output
        assert "iam.users.two_factor_secret\tA\t3\told, rotate" in result.output
        printed = result.output + runner.invoke(app, ["keys", "rotate"]).output
        for pin, _ in plain["customers"].values():
            assert pin not in printed
        assert KEY_A.split(":")[1] not in printed and KEY_B.split(":")[1] not in printed
    finally:
        get_settings.cache_clear()
        get_keyring.cache_clear()


class TestNoPlaintextNationalId:
    """The national id of a customer never reaches audit rows, logs or error messages."""

    async def test_create_logs_and_audit(
        self, client: AsyncClient, session: AsyncSession, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        _, headers = await signed_in(client, session)
        pin = thai_pin(4242)
        dashed = f"{pin[0]}-{pin[1:5]}-{pin[5:10]}-{pin[10:12]}-{pin[12]}"
        response = await client.post(
            CUSTOMERS, json=customer_body(national_id=dashed), headers=headers
        )
        assert response.status_code == 201, response.text
        customer_id = response.json()["id"]
        assert pin not in response.text and dashed not in response.text

        rows = (
            await session.execute(
                text(
                    "SELECT old_values::text, new_values::text, changed_fields::text"
                    " FROM audit.audit_log WHERE record_id = :id"
                ),
                {"id": customer_id},
            )
        ).all()
        assert rows  # the insert was audited
        audit_text = " ".join(str(part) for row in rows for part in row)
        assert "*********" + pin[-4:] in audit_text
        assert pin not in audit_text and dashed not in audit_text

        # Duplicate (409) and invalid (422) ids: the answer names the field, not the value.
        dup = await client.post(CUSTOMERS, json=customer_body(national_id=pin), headers=headers)
        assert dup.status_code == 409
        bad = await client.post(
            CUSTOMERS, json=customer_body(national_id=INVALID_PIN), headers=headers
        )
        assert bad.status_code == 422
        for answer in (dup, bad):
            assert pin not in answer.text and INVALID_PIN not in answer.text

        logged = caplog.text + " ".join(repr(r.msg) for r in caplog.records)
        assert '"request"' in logged or "'request'" in logged  # the access log was captured
        for value in (pin, dashed, INVALID_PIN):
            assert value not in logged
