"""A private PostgreSQL cluster under `var/`, used when no DATABASE_URL is set.

Binaries come from the system's PostgreSQL (>= 15) when present, else from the `pgserver`
wheel. PostgreSQL refuses to run as root, so under root the cluster belongs to an
unprivileged account (`postgres` when it exists, else a `polis` system user we create).
The superuser password is generated at initdb and kept in `var/pg/credentials` (mode 600).
Every start archives WAL (archive_mode on) into `var/pg/wal_archive`, or a directory given
once and remembered, for point-in-time recovery (polis.ops.backup, decision 0054).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from hashlib import sha1
from pathlib import Path
from urllib.parse import quote

MIN_MAJOR = 15
SUPERUSER = "polis"
DATABASE = "polis"
ARCHIVE_CONF = "polis.archive.conf"  # in the data directory, included by postgresql.conf
_ARCHIVE_MARK = "# polis-wal-archive: "


class EmbeddedError(RuntimeError):
    """An expected failure of the embedded cluster, reported as one line."""


def _major(bindir: Path) -> int | None:
    try:
        out = subprocess.run(
            [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    m = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(m.group(1)) if m else None


def _usable(bindir: Path) -> bool:
    if not ((bindir / "initdb").exists() and (bindir / "pg_ctl").exists()):
        return False
    major = _major(bindir)
    return major is not None and major >= MIN_MAJOR


def find_bindir() -> Path:
    """The PostgreSQL bin directory: POLIS_PG_BINDIR, the system's, then pgserver's."""
    override = os.environ.get("POLIS_PG_BINDIR")
    if override:
        if not _usable(Path(override)):
            raise EmbeddedError(f"POLIS_PG_BINDIR={override} holds no PostgreSQL >= {MIN_MAJOR}")
        return Path(override)
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout
            candidates.append(Path(out.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for name in ("postgres", "initdb", "pg_ctl"):
        found = shutil.which(name)
        if found:
            candidates.append(Path(found).resolve().parent)
    for bindir in candidates:
        if _usable(bindir):
            return bindir
    with contextlib.suppress(ImportError):
        import pgserver  # the wheel's bundled binaries, when the system has none

        bindir = Path(pgserver.__file__).parent / "pginstall" / "bin"
        if _usable(bindir):
            return bindir
    raise EmbeddedError(
        f"no PostgreSQL >= {MIN_MAJOR} binaries found (install postgresql or the pgserver wheel)"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ClusterUser:
    """The OS account that owns and runs the cluster."""

    name: str
    uid: int
    gid: int
    switch: bool  # True when we are root and must drop to this account

    def cmd(self, argv: list[str]) -> list[str]:
        """Prefix argv so it runs as this account."""
        if not self.switch:
            return argv
        return ["runuser", "-u", self.name, "--", *argv]


def _cluster_user() -> ClusterUser:
    if os.geteuid() != 0:
        pw = pwd.getpwuid(os.geteuid())
        return ClusterUser(pw.pw_name, pw.pw_uid, pw.pw_gid, switch=False)
    for name in ("postgres", "polis"):
        with contextlib.suppress(KeyError):
            pw = pwd.getpwnam(name)
            return ClusterUser(name, pw.pw_uid, pw.pw_gid, switch=True)
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "polis"],
        check=True,
        capture_output=True,
    )
    pw = pwd.getpwnam("polis")
    return ClusterUser("polis", pw.pw_uid, pw.pw_gid, switch=True)


class EmbeddedPostgres:
    """Create, start, stop and describe the private cluster in `base_dir`."""

    def __init__(self, base_dir: Path, *, wal_archive: Path | None = None) -> None:
        self.requested_dir = base_dir.resolve()
        self._wal_archive = wal_archive.resolve() if wal_archive else None
        self.user = _cluster_user()
        self.base_dir = self._usable_base(self.requested_dir)
        self.data_dir = self.base_dir / "data"
        self.run_dir = self.base_dir / "run"
        self.log_file = self.base_dir / "log" / "postgresql.log"
        self.credentials = self.base_dir / "credentials"
        self._bindir: Path | None = None

    # -- placement and ownership ------------------------------------------------------------
    def _usable_base(self, wanted: Path) -> Path:
        """`wanted`, or a private fallback when the cluster account cannot reach it (root)."""
        if wanted.exists() and not self.user.switch and wanted.stat().st_uid != os.geteuid():
            raise EmbeddedError(
                f"{wanted} belongs to uid {wanted.stat().st_uid}, not to you; "
                "run as that user or set DATABASE_URL"
            )
        if not self.user.switch:
            return wanted
        # Under root the cluster account must be able to walk every parent directory.
        probe = wanted
        while not probe.exists():
            probe = probe.parent
        ok = (
            subprocess.run(self.user.cmd(["test", "-x", str(probe)]), capture_output=True)
        ).returncode == 0
        if ok:
            return wanted
        digest = sha1(str(wanted).encode(), usedforsecurity=False).hexdigest()[:10]
        return Path(tempfile.gettempdir()) / f"polis-pg-{digest}"

    @property
    def bindir(self) -> Path:
        """The PostgreSQL binaries in use."""
        if self._bindir is None:
            self._bindir = find_bindir()
        return self._bindir

    def _bin(self, name: str) -> str:
        return str(self.bindir / name)

    def _run(self, argv: list[str], what: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(self.user.cmd(argv), capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
            raise EmbeddedError(f"{what} failed: {tail[0]}")
        return proc

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        with open(self.base_dir / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- lifecycle --------------------------------------------------------------------------
    def initialised(self) -> bool:
        """Whether initdb has run here."""
        return (self.data_dir / "PG_VERSION").exists() and self.credentials.exists()

    def _initdb(self) -> None:
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            if not (self.data_dir / "PG_VERSION").exists() or not self.credentials.exists():
                raise EmbeddedError(
                    f"{self.data_dir} holds something that is not a Polis cluster; move it away"
                )
            return
        password = secrets.token_urlsafe(24)
        for d in (self.data_dir, self.run_dir, self.log_file.parent):
            d.mkdir(parents=True, exist_ok=True)
            if self.user.switch:
                os.chown(d, self.user.uid, self.user.gid)
        os.chmod(self.data_dir, 0o700)
        with tempfile.NamedTemporaryFile("w", dir=self.run_dir, delete=False) as pw:
            pw.write(password + "\n")
        pwfile = Path(pw.name)
        if self.user.switch:
            os.chown(pwfile, self.user.uid, self.user.gid)
        try:
            self._run(
                [
                    self._bin("initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    SUPERUSER,
                    "--pwfile",
                    str(pwfile),
                    "--auth-local=scram-sha-256",
                    "--auth-host=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ],
                "initdb",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        self.credentials.write_text(password + "\n")
        os.chmod(self.credentials, 0o600)
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# Polis embedded defaults\n"
                "listen_addresses = '127.0.0.1'\n"
                "max_connections = 200\n"
                "shared_buffers = 128MB\n"
                "fsync = on\n"
                "wal_level = replica\n"
                "timezone = 'UTC'\n"
            )

    def pid_info(self) -> tuple[int, int] | None:
        """(pid, port) of a running postmaster, or None."""
        pidfile = self.data_dir / "postmaster.pid"
        try:
            lines = pidfile.read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return None
        if len(lines) < 4:
            return None
        pid, port = int(lines[0]), int(lines[3])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return pid, port

    def running(self) -> bool:
        """Whether the postmaster is up."""
        return self.pid_info() is not None

    def start(self, port: int | None = None) -> bool:
        """Start the cluster (initialising it first); returns True when this call started it."""
        with self._lock():
            self._initdb()
            if self.running():
                return False
            self.configure_archiving()
            port = port or _free_port()
            self._run(
                [
                    self._bin("pg_ctl"),
                    "start",
                    "-w",
                    "-t",
                    "60",
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-o",
                    f"-p {port} -k {self.run_dir}",
                ],
                f"starting PostgreSQL on 127.0.0.1:{port} (see {self.log_file})",
            )
            self._ensure_database()
            return True

    def stop(self) -> bool:
        """Stop the cluster (fast shutdown); returns True when it was running."""
        with self._lock():
            if not self.running():
                return False
            self._run(
                [self._bin("pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.data_dir)],
                "stopping PostgreSQL",
            )
            return True

    def discard(self) -> None:
        """Stop a scratch cluster (tests, benchmarks) and delete the private directory it
        fell back to under the system temporary directory (root runs: see `_usable_base`).
        A cluster in the directory that was asked for is left to whoever owns that place."""
        try:
            self.stop()
        finally:
            if self.base_dir != self.requested_dir:
                shutil.rmtree(self.base_dir, ignore_errors=True)

    # -- WAL archiving ----------------------------------------------------------------------
    @property
    def wal_archive(self) -> Path:
        """Where WAL is archived: the directory given, else the one set at the last start,
        else `<base_dir>/wal_archive`."""
        if self._wal_archive is not None:
            return self._wal_archive
        with contextlib.suppress(OSError):
            for line in (self.data_dir / ARCHIVE_CONF).read_text().splitlines():
                if line.startswith(_ARCHIVE_MARK):
                    return Path(line[len(_ARCHIVE_MARK) :])
        return self.base_dir / "wal_archive"

    @wal_archive.setter
    def wal_archive(self, path: Path) -> None:
        self._wal_archive = path.resolve()

    def archive_command(self) -> str:
        """Copy a finished segment into the archive (fsynced, renamed into place); refuse to
        overwrite a different file of the same name, accept an identical one (a retry)."""
        d = shlex.quote(str(self.wal_archive))
        return (
            f"test ! -f {d}/%f && cp %p {d}/%f.part && sync {d}/%f.part"
            f" && mv {d}/%f.part {d}/%f || cmp -s %p {d}/%f"
        )

    def configure_archiving(self) -> bool:
        """Write the archiving settings (ARCHIVE_CONF) and include them from postgresql.conf;
        True when they changed (a running server then needs `reload`; archive_mode, a
        restart)."""
        archive = self.wal_archive
        archive.mkdir(parents=True, exist_ok=True)
        if self.user.switch:
            os.chown(archive, self.user.uid, self.user.gid)
            probe = ["test", "-w", str(archive), "-a", "-x", str(archive)]
            if subprocess.run(self.user.cmd(probe), capture_output=True).returncode != 0:
                raise EmbeddedError(f"{self.user.name} cannot write the WAL archive {archive}")
        command = self.archive_command().replace("'", "''")
        text = (
            "# Written by Polis at every start (polis.db.embedded); edits are overwritten.\n"
            f"{_ARCHIVE_MARK}{archive}\n"
            "wal_level = replica\n"
            "max_wal_senders = 10\n"
            "archive_mode = on\n"
            f"archive_command = '{command}'\n"
            "archive_timeout = 300\n"
        )
        conf = self.data_dir / ARCHIVE_CONF
        with contextlib.suppress(FileNotFoundError):
            if conf.read_text() == text:
                return False
        conf.write_text(text)
        if self.user.switch:
            os.chown(conf, self.user.uid, self.user.gid)
        main = self.data_dir / "postgresql.conf"
        include = f"include_if_exists = '{ARCHIVE_CONF}'"
        if include not in main.read_text():
            with open(main, "a") as fh:
                fh.write(f"\n# WAL archiving (decision 0054)\n{include}\n")
        return True

    def reload(self) -> None:
        """Make a running server re-read its configuration."""
        self._run([self._bin("pg_ctl"), "reload", "-D", str(self.data_dir)], "reloading")

    def _ensure_database(self) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "select 1 from pg_database where datname = %s", (DATABASE,)
            ).fetchone()
            if not exists:
                conn.execute(f'create database "{DATABASE}"')

    def url(self, database: str = DATABASE) -> str:
        """libpq URL of the running cluster (psql accepts it as is)."""
        info = self.pid_info()
        if info is None:
            raise EmbeddedError("the embedded PostgreSQL is not running (try `polis db start`)")
        password = self.credentials.read_text().strip()
        return f"postgresql://{SUPERUSER}:{quote(password)}@127.0.0.1:{info[1]}/{database}"
