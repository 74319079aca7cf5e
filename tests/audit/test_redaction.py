"""Audit rows never hold credentials (migration 0024): the trigger writes JSON null for
password hashes and the like, yet `changed_fields` still says they changed; rows written
before are scrubbed by the migration's own statement."""

from __future__ import annotations

import importlib
import uuid

from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession

from polis.iam.models import User
from tests.iam.factories import create_user

migration = importlib.import_module("polis.migrations.versions.0024_audit_redact_secrets")


async def _images(session: AsyncSession, user_id: uuid.UUID) -> list[tuple[object, ...]]:
    rows = await session.execute(
        text(
            "select operation, old_values, new_values, changed_fields from audit.audit_log"
            " where table_name = 'iam.users' and record_id = :id order by id"
        ),
        {"id": user_id},
    )
    return [tuple(r) for r in rows]


async def test_password_hashes_are_null_in_audit_rows_but_the_change_is_recorded(
    session: AsyncSession,
) -> None:
    user = await create_user(session, role="CLAIMS_PROCESSOR", password_history=["$argon2id$x"])
    assert user.password_hash.startswith("$argon2id$")
    await session.execute(
        update(User)
        .where(User.id == user.id)
        .values(password_hash="$argon2id$new", password_history=["$argon2id$new"])
    )
    (op1, old1, new1, _), (op2, old2, new2, changed) = await _images(session, user.id)
    assert (op1, old1, op2) == ("INSERT", None, "UPDATE")
    assert isinstance(new1, dict) and isinstance(old2, dict) and isinstance(new2, dict)
    for image in (new1, old2, new2):
        assert image["password_hash"] is None
        assert image["password_history"] is None
        assert image["two_factor_secret"] is None
        assert image["username"] == user.username  # the rest of the row is kept
    assert changed == ["password_hash", "password_history"]
    dump = str(await _images(session, user.id))
    assert "$argon2id$" not in dump


async def test_the_migration_scrubs_rows_written_before_it(session: AsyncSession) -> None:
    record = uuid.uuid4()
    await session.execute(
        text(
            "insert into audit.audit_log (table_name, record_id, operation, old_values,"
            " new_values, user_agent) values ('iam.users', :r, 'UPDATE',"
            ' \'{"username": "somchai", "password_hash": "$argon2id$old"}\','
            ' \'{"username": "somchai", "password_hash": "$argon2id$new",'
            ' "refresh_token_hash": "abc"}\', \'pytest\')'
        ),
        {"r": record},
    )
    await session.execute(text(migration._SCRUB))
    old, new = (
        await session.execute(
            text("select old_values, new_values from audit.audit_log where record_id = :r"),
            {"r": record},
        )
    ).one()
    assert old == {"username": "somchai", "password_hash": None}
    assert new == {"username": "somchai", "password_hash": None, "refresh_token_hash": None}
