"""`polis demo`: realistic data that satisfies every constraint, readable ids, working logins."""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from polis.config import get_settings
from polis.db import migrate
from polis.demo import DEMO_USERS, Volumes, ensure_demo_users, load_demo, single_instance
from polis.iam.passwords import verify_password
from polis.platform.crypto import get_keyring


@pytest.fixture
def isolated_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A var/ of its own (demo lock, development keys), so tests never touch the checkout's."""
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    get_keyring.cache_clear()
    yield tmp_path
    get_settings.cache_clear()
    get_keyring.cache_clear()


@pytest.fixture(scope="module")
def demo_db(create_database: Callable[[], str]) -> str:
    url = create_database()
    migrate.upgrade(url)
    return url


def test_loads_every_volume_and_ids_decrypt(demo_db: str, isolated_var: Path) -> None:
    counts = load_demo(demo_db, Volumes(members=60, customers=12, providers=8, companies=3))
    ring = get_keyring()
    with psycopg.connect(demo_db) as conn:
        n_members = conn.execute("select count(*) from member.member").fetchone()
        assert n_members is not None and n_members[0] == counts["member.member"]
        # principals (60) plus their dependants
        assert n_members[0] >= 60
        n_customers = conn.execute("select count(*) from motor.customers").fetchone()
        assert n_customers == (12,)
        rows = conn.execute(
            "select national_id, national_id_encrypted, national_id_hash from member.member"
            " where national_id_encrypted is not null limit 20"
        ).fetchall()
        assert rows
        for masked, blob, digest in rows:
            nik = ring.decrypt(blob)
            assert len(nik) == 16 and nik.isdigit()
            assert digest == ring.blind_index(nik)
            assert masked.endswith(nik[-4:]) and nik not in masked
        th = conn.execute(
            "select national_id_encrypted, national_id_hash from motor.customers"
            " where national_id_encrypted is not null"
        ).fetchall()
        assert len(th) == 12
        for blob, digest in th:
            pin = ring.decrypt(blob)
            digits = [int(c) for c in pin]
            check = (11 - sum(d * (13 - i) for i, d in enumerate(digits[:12])) % 11) % 10
            assert len(pin) == 13 and digits[12] == check
            assert digest == ring.blind_index(pin)


def test_demo_users_can_log_in_with_the_printed_passwords(demo_db: str, isolated_var: Path) -> None:
    printed = ensure_demo_users(demo_db)
    assert len(printed) == len(DEMO_USERS)
    with psycopg.connect(demo_db) as conn:
        for username, role, password in printed:
            row = conn.execute(
                "select role, password_hash, account_status from iam.users where username = %s",
                (username,),
            ).fetchone()
            assert row is not None
            assert row[0] == role and row[2] == "ACTIVE"
            assert verify_password(row[1], password)
    # a restart prints new passwords and the old ones stop working
    again = {u: p for u, _, p in ensure_demo_users(demo_db)}
    first_user, _, old_password = printed[0]
    assert again[first_user] != old_password
    with psycopg.connect(demo_db) as conn:
        row = conn.execute(
            "select password_hash from iam.users where username = %s", (first_user,)
        ).fetchone()
    assert row is not None
    assert not verify_password(row[0], old_password)
    assert verify_password(row[0], again[first_user])


def test_a_second_demo_is_refused_with_one_line(isolated_var: Path) -> None:
    with open(isolated_var / "demo.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        from polis.cli import CliError

        with pytest.raises(CliError, match="another `polis demo` is running"), single_instance():
            pass
    with single_instance():  # free again once the other one ends
        pass


def test_cli_demo_without_server(
    create_database: Callable[[], str], isolated_var: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from polis.cli import app

    url = create_database()
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    runner = CliRunner()
    result = runner.invoke(app, ["demo", "--members", "20", "--customers", "5", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "loaded" in result.output and "CLAIMS_PROCESSOR" in result.output
    second = runner.invoke(app, ["demo", "--members", "20", "--no-serve"])
    assert second.exit_code == 0, second.output
    assert "already loaded" in second.output
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from motor.customers").fetchone() == (5,)
    bad = runner.invoke(app, ["demo", "--members", "0", "--no-serve"])
    assert bad.exit_code == 1
    assert bad.output.strip().splitlines()[-1].startswith("polis: error:")
