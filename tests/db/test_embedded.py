"""The embedded cluster: start, URL, idempotent start/stop, clear errors, both binary sources."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
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
    pg.discard()
    assert pg.base_dir == pg.requested_dir or not pg.base_dir.exists()


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


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://root@127.0.0.1/polis", "postgresql"),
        ("not a url at all", ""),
        ("postgresql://nobody:x@127.0.0.1:1/none", ""),
    ],
)
def test_cli_reports_one_line_for_a_wrong_url(tmp_path: Path, url: str, says: str) -> None:
    env = {**os.environ, "DATABASE_URL": url}
    out = subprocess.run(
        [sys.executable, "-m", "polis", "db", "current"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert out.stderr.startswith("polis: error: ")
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert says in out.stderr.lower()


def test_serve_refuses_a_taken_port_with_one_line(db_url: str, tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        port = held.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-m", "polis", "serve", "--port", str(port), "--no-migrate"],
            capture_output=True,
            text=True,
            env={**os.environ, "DATABASE_URL": db_url},
            cwd=tmp_path,
            timeout=60,
        )
    assert out.returncode == 1
    assert out.stderr.strip() == (
        f"polis: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    )


def test_serve_answers_real_http_and_stops(db_url: str, tmp_path: Path) -> None:
    import httpx

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "polis", "serve", "--port", str(port), "--no-migrate"],
        env={**os.environ, "DATABASE_URL": db_url},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "server did not come up in 30 s"
                time.sleep(0.2)
        assert ready.status_code == 200
        me = httpx.get(f"http://127.0.0.1:{port}/api/v1/auth/me", timeout=5)
        assert me.status_code == 401
        assert me.headers["content-type"].startswith("application/problem+json")
        docs = httpx.get(f"http://127.0.0.1:{port}/docs", timeout=5)
        assert docs.status_code == 200
        # no CDN: every script and stylesheet of the docs page is served by Polis itself
        assert "cdn.jsdelivr" not in docs.text and "unpkg" not in docs.text
        bundle = httpx.get(f"http://127.0.0.1:{port}/static/docs/swagger-ui-bundle.js", timeout=5)
        assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.text
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0  # graceful shutdown, clean exit
        stderr = proc.stderr.read().decode() if proc.stderr else ""
        assert "Traceback" not in stderr, stderr


def test_a_normal_user_runs_its_own_cluster(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Run as root, the tests above take the root path; this one takes the normal-user path.

    (Run as a normal user, test_start_url_stop already covers it.)
    """
    if os.geteuid() != 0:
        pytest.skip("already running as a normal user")
    probe = subprocess.run(
        ["runuser", "-u", "nobody", "--", sys.executable, "-c", "import polis"],
        capture_output=True,
    )
    if probe.returncode != 0:
        pytest.skip("this Python is not readable by the nobody account")
    home = Path(tempfile.mkdtemp(prefix="polis-nobody-"))
    home.chmod(0o755)
    shutil.chown(home, "nobody")
    env = {**os.environ, "VAR_DIR": str(home / "var"), "HOME": str(home)}
    env.pop("DATABASE_URL", None)
    polis = ["runuser", "-u", "nobody", "--", sys.executable, "-m", "polis", "db"]
    try:
        url = subprocess.run(
            [*polis, "url"], capture_output=True, text=True, env=env, timeout=120, check=True
        ).stdout.strip()
        with psycopg.connect(url) as conn:
            assert conn.execute("select current_user").fetchone() == ("polis",)
        assert (home / "var" / "pg" / "data").stat().st_uid != 0
        subprocess.run([*polis, "stop"], env=env, timeout=60, check=True, capture_output=True)
    finally:
        subprocess.run([*polis, "stop"], env=env, timeout=60, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def test_a_data_directory_owned_by_someone_else_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import polis.db.embedded as embedded

    me = embedded.ClusterUser("me", os.geteuid(), os.getegid(), switch=False)
    monkeypatch.setattr(embedded, "_cluster_user", lambda: me)
    if os.geteuid() == 0:
        theirs = tmp_path / "pg"
        theirs.mkdir()
        os.chown(theirs, 65534, 65534)  # nobody
    else:
        theirs = Path("/")  # root's
    with pytest.raises(EmbeddedError, match=r"belongs to uid \d+, not to you"):
        EmbeddedPostgres(theirs)


def test_sigterm_stops_the_server_and_its_embedded_cluster(tmp_path: Path) -> None:
    import httpx

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "VAR_DIR": str(tmp_path / "var")}
    env.pop("DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "polis", "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "server did not come up in 90 s"
                time.sleep(0.3)
        pg = EmbeddedPostgres(tmp_path / "var" / "pg")
        assert pg.running()
        proc.terminate()
        assert proc.wait(timeout=30) == 0
        assert not pg.running()  # `polis serve` started it, so `polis serve` stopped it
    finally:
        if proc.poll() is None:
            proc.kill()
        subprocess.run(
            [sys.executable, "-m", "polis", "db", "stop"], env=env, capture_output=True, timeout=60
        )
        EmbeddedPostgres(tmp_path / "var" / "pg").discard()
