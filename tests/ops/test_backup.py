"""Backups and recovery (issue 7 item 4, decision 0054): real pg_dump, pg_restore,
pg_basebackup and a dedicated archiving cluster recovered to a point in time."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner, Result

from polis.config import get_settings
from polis.db.embedded import EmbeddedPostgres, find_bindir
from polis.ops import backup as b


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[..., Result]]:
    """Run `polis ...` in-process with VAR_DIR in tmp_path; DATABASE_URL as the test sets."""
    from polis.cli import app

    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("BACKUP_UPLOAD_COMMAND", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str) -> Result:
        get_settings.cache_clear()
        return runner.invoke(app, list(args))

    yield run
    get_settings.cache_clear()


def _counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "select format('%I.%I', schemaname, tablename) from pg_tables"
            " where schemaname not in ('pg_catalog', 'information_schema') order by 1"
        ).fetchall()
        return {
            t: int(conn.execute(f"select count(*) from {t}").fetchone()[0])  # type: ignore[index]
            for (t,) in tables
        }


def _drop(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def test_backup_verify_retention_and_restore(
    cli: Callable[..., Result],
    db_url: str,
    server_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The shared database migrated to head: the real schema (partitions, row-level security,
    # grants, extensions) with its reference data. Tests of this worker run one at a time and
    # roll back, so its rows do not change while this test compares them.
    url = db_url
    monkeypatch.setenv("DATABASE_URL", url)
    backups = tmp_path / "backups"
    backups.mkdir()
    old = (datetime.now(UTC) - timedelta(days=30)).strftime(b.STAMP)
    recent = (datetime.now(UTC) - timedelta(days=1)).strftime(b.STAMP)
    ours_old = [f"polis-{old}.dump", f"polis-{old}.dump.sha256", f"polis-{old}-1.dump"]
    kept = [
        f"polis-{recent}.dump",  # within retention
        f"other-{old}.dump",  # not our pattern
        f"polis-{old}.sql",
        "polis-latest.dump",
        "notes.txt",
    ]
    for name in ours_old + kept:
        (backups / name).write_text("x")
    (backups / f"polis-base-{old}").mkdir()  # old, but the newest base backup: kept

    result = cli("backup", "--dir", str(backups), "--retention-days", "7")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    dump = Path(lines[0])
    assert dump.parent == backups and b.DUMP_RE.match(dump.name)
    digest = b.sha256_file(dump)
    assert f"size {dump.stat().st_size} bytes, sha256 {digest}" in lines[1]
    assert b.checksum_path(dump).read_text() == f"{digest}  {dump.name}\n"
    assert "retention: deleted 3 old file(s)" in result.stdout
    for name in ours_old:
        assert not (backups / name).exists(), name
    for name in kept:
        assert (backups / name).exists(), name
    assert (backups / f"polis-base-{old}").is_dir()
    listed = subprocess.run(
        [str(find_bindir() / "pg_restore"), "--list", str(dump)], capture_output=True, text=True
    )
    assert listed.returncode == 0 and "TABLE DATA ref provinces" in listed.stdout

    # Restore into a new database: the same rows in every table.
    name = f"polis_restored_{uuid.uuid4().hex[:8]}"
    try:
        restored = cli("restore", str(dump), "--database", name)
        assert restored.exit_code == 0, restored.output
        new_url = restored.stdout.strip().splitlines()[-1]
        assert new_url.endswith(f"/{name}")
        source = _counts(url)
        assert source["ref.provinces"] == 77 and sum(source.values()) > 1000
        assert _counts(new_url) == source
        # An existing name is refused, in one line, and left alone.
        again = cli("restore", str(dump), "--database", name)
        assert again.exit_code == 1
        err = again.stderr.strip()
        assert err == f"polis: error: database '{name}' already exists; restore into a new name"
        assert _counts(new_url)["ref.provinces"] == 77
    finally:
        _drop(server_url, name)


def test_upload_and_corrupt_backups(
    cli: Callable[..., Result],
    create_database: Callable[[], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = create_database()
    with psycopg.connect(url) as conn:
        conn.execute("create table t (id int)")
        conn.execute("insert into t select generate_series(1, 10)")
    monkeypatch.setenv("DATABASE_URL", url)
    backups = tmp_path / "backups"
    # Upload: {file} is the backup's path; a failing upload exits 1 and keeps the file.
    sent = tmp_path / "sent"
    sent.mkdir()
    up = cli("backup", "--dir", str(backups), "--upload-command", f"cp {{file}} {sent}/")
    assert up.exit_code == 0, up.output
    uploaded = Path(up.stdout.splitlines()[0])
    assert (sent / uploaded.name).read_bytes() == uploaded.read_bytes()
    failed = cli("backup", "--dir", str(backups), "--upload-command", "exit 3")
    assert failed.exit_code == 1
    assert failed.stderr.startswith("polis: error: upload failed")
    assert Path(failed.stdout.splitlines()[0]).is_file()

    good = b.dump(url, tmp_path)
    assert b.verify_dump(good) >= 2
    # A truncated file: pg_restore --list fails; the backup step deletes it.
    broken = tmp_path / "polis-20260101T000000Z.dump"
    broken.write_bytes(good.read_bytes()[:200])
    checked = cli("backup", "--verify", str(broken))
    assert checked.exit_code == 1
    assert checked.stderr.startswith("polis: error: verifying")
    refused = cli("restore", str(broken), "--database", "polis_never_made")
    assert refused.exit_code == 1
    with pytest.raises(b.BackupError, match="verifying"):
        b.verify_or_discard(broken)
    assert not broken.exists()
    # A file changed after it was written: its checksum no longer matches.
    b.checksum_path(good).write_text(f"{b.sha256_file(good)}  {good.name}\n")
    assert cli("backup", "--verify", str(good)).exit_code == 0
    with open(good, "ab") as fh:
        fh.write(b"tampered")
    tampered = cli("backup", "--verify", str(good))
    assert tampered.exit_code == 1
    assert "does not match its checksum" in tampered.stderr


def _stop_all(bases: list[Path]) -> None:
    for base in bases:
        EmbeddedPostgres(base).discard()


def test_point_in_time_recovery(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A world-traversable VAR_DIR: under root the clusters' account can reach it, so every
    # cluster of this test (the source and the recovered one) lives under it and is found
    # again by the teardown, whatever happened.
    var = Path(tempfile.mkdtemp(prefix="polis-pitr-test-"))
    var.chmod(0o755)
    monkeypatch.setenv("VAR_DIR", str(var))
    pg = EmbeddedPostgres(var / "pg")
    pitr = var / "pitr"
    try:
        assert pg.base_dir == var / "pg"
        pg.start()
        url = pg.url()
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("show archive_mode").fetchone() == ("on",)
            conn.execute("create table t (id int primary key, phase text)")
        backups = tmp_path / "backups"
        base = cli("backup", "--base", "--dir", str(backups))
        assert base.exit_code == 0, base.output
        assert (Path(base.stdout.splitlines()[0]) / "base.tar.gz").is_file()

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("insert into t select g, 'before' from generate_series(1, 5) g")
            time.sleep(0.3)
            conn.execute("select pg_switch_wal()")
            row = conn.execute("select clock_timestamp()").fetchone()
            assert row is not None
            target: datetime = row[0]
            time.sleep(0.3)
            conn.execute("insert into t select g, 'after' from generate_series(6, 9) g")
        # (`polis restore` switches and waits for the archive itself, for the later rows.)

        result = cli("restore", "--to-time", target.isoformat(sep=" "), "--dir", str(backups))
        assert result.exit_code == 0, result.output
        out = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
        with psycopg.connect(out["url"]) as conn:
            rows = conn.execute("select id, phase from t order by id").fetchall()
            assert rows == [(i, "before") for i in range(1, 6)]
            assert conn.execute("select pg_is_in_recovery()").fetchone() == (False,)
            conn.execute("insert into t values (100, 'writable')")  # promoted
        assert Path(out["data"]).parent.parent == pitr
        # The source is untouched and still has every row.
        with psycopg.connect(url) as conn:
            assert conn.execute("select count(*) from t").fetchone() == (9,)
        # The copy archives its own timeline apart from the source's archive.
        assert not list(pg.wal_archive.glob("*.history"))
    finally:
        _stop_all(sorted(pitr.iterdir()) if pitr.is_dir() else [])
        _stop_all([var / "pg"])
        shutil.rmtree(var, ignore_errors=True)
