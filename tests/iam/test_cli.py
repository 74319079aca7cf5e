"""`polis users create`: creates a usable account; bad input is one line and exit 1."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest
from typer.testing import CliRunner, Result

from polis.config import get_settings
from polis.db import migrate
from polis.iam.passwords import verify_password


@pytest.fixture(scope="module")
def cli_db(create_database: Callable[[], str]) -> str:
    """A database of its own: the CLI commits."""
    url = create_database()
    migrate.upgrade(url)
    return url


@pytest.fixture
def run(cli_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Result]]:
    from polis.cli import app

    monkeypatch.setenv("DATABASE_URL", cli_db)
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(app, ["users", "create", *args])
    get_settings.cache_clear()


def test_creates_a_user(run: Callable[..., Result], cli_db: str) -> None:
    result = run(
        "--username",
        "ops-admin",
        "--password",
        "a long enough password",
        "--role",
        "super_admin",
        "--email",
        "ops@example.test",
    )
    assert result.exit_code == 0, result.output
    assert "created user ops-admin (SUPER_ADMIN)" in result.output
    with psycopg.connect(cli_db) as conn:
        row = conn.execute(
            "select role, email, first_name, password_hash, account_status from iam.users"
            " where username = 'ops-admin'"
        ).fetchone()
    assert row is not None
    role, email, first_name, password_hash, status = row
    assert (role, email, first_name, status) == (
        "SUPER_ADMIN",
        "ops@example.test",
        "ops-admin",
        "ACTIVE",
    )
    assert verify_password(password_hash, "a long enough password")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--username", "x1", "--password", "a long enough password", "--role", "PIRATE"],
            "unknown role 'PIRATE'",
        ),
        (
            ["--username", "x2", "--password", "short", "--role", "AGENT"],
            "password must have at least 12 characters",
        ),
    ],
)
def test_bad_input_is_one_line(run: Callable[..., Result], args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 1
    out = result.output.strip()
    assert out.startswith("polis: error: ")
    assert message.lower() in out.lower()
    assert "Traceback" not in out and len(out.splitlines()) == 1


def test_duplicate_username(run: Callable[..., Result]) -> None:
    args = ["--username", "twice", "--password", "a long enough password", "--role", "AGENT"]
    assert run(*args).exit_code == 0
    result = run(*args)
    assert result.exit_code == 1
    assert result.output.strip() == "polis: error: The email and username are already taken"
