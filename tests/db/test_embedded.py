"""The embedded cluster: start, URL, idempotent start/stop, clear errors, both binary sources."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from polis.db.embedded import EmbeddedError, EmbeddedPostgres, find_bindir


def _pgserver_bindir() -> Path:
    import pgserver

    return Path(pgserver.__file__).parent / "pginstall" / "bin"


@pytest.mark.parametrize("source", ["system-or-default", "pgserver"])
def test_start_url_stop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    if source == "pgserver":
        monkeypatch.setenv("POLIS_PG_BINDIR", str(_pgserver_bindir()))
    pg = EmbeddedPostgres(tmp_path / "pg")
    assert pg.start() is True
    try:
        assert pg.start() is False  # already running
        with psycopg.connect(pg.url()) as conn:
            assert conn.execute("select current_database()").fetchone() == ("polis",)
            version = conn.execute("show server_version_num").fetchone()
            assert version is not None and int(version[0]) >= 150000
        # The URL is a plain libpq URL psql accepts.
        out = subprocess.run(
            ["psql", pg.url(), "-Atc", "select 42"], capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == "42"
        assert (pg.credentials.stat().st_mode & 0o777) == 0o600
    finally:
        assert pg.stop() is True
    assert pg.stop() is False
    assert not pg.running()
    with pytest.raises(EmbeddedError, match="not running"):
        pg.url()


def test_foreign_data_directory_is_refused() -> None:
    # A world-traversable directory, so that under root the cluster account can reach it
    # and the embedded manager does not fall back to a private directory.
    base = Path(tempfile.mkdtemp(prefix="polis-foreign-"))
    base.chmod(0o755)
    data = base / "pg" / "data"
    data.mkdir(parents=True)
    (data / "something").write_text("not postgres")
    pg = EmbeddedPostgres(base / "pg")
    try:
        assert pg.base_dir == base / "pg"
        with pytest.raises(EmbeddedError, match="not a Polis cluster"):
            pg.start()
    finally:
        shutil.rmtree(base)


def test_bad_bindir_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLIS_PG_BINDIR", str(tmp_path))
    with pytest.raises(EmbeddedError, match="holds no PostgreSQL"):
        find_bindir()


def test_cli_reports_one_line_for_unreachable_server(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": "postgresql://nobody:x@127.0.0.1:1/none"}
    out = subprocess.run(
        [sys.executable, "-m", "polis", "db", "upgrade"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert out.returncode == 1
    assert out.stderr.startswith("polis: error: ")
    assert len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr
