"""Backups and recovery (decision 0054).

- Logical backups: `pg_dump -Fc` of the Polis database into `polis-<UTC stamp>.dump`, verified
  with `pg_restore --list`, a sha256 beside it, retention by the stamp in the name, an optional
  upload command; restored with `pg_restore` into a new database only.
- Physical backups: `pg_basebackup` (tar + gzip, or plain) into `polis-base-<UTC stamp>/`,
  named by the time it finished; with the WAL archive of the embedded cluster they give
  point-in-time recovery into a new cluster (or, asked explicitly, in the cluster's place).

PostgreSQL client programs come from polis.db.embedded.find_bindir(); passwords go through
the environment (PGPASSWORD), never on a command line.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from polis.db.embedded import ARCHIVE_CONF, EmbeddedError, EmbeddedPostgres, find_bindir

STAMP = "%Y%m%dT%H%M%SZ"
DUMP_RE = re.compile(r"^polis-(\d{8}T\d{6}Z)(?:-\d+)?\.dump$")
BASE_RE = re.compile(r"^polis-base-(\d{8}T\d{6}Z)(?:-\d+)?$")
BASE_META = "polis-base.json"
_DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class BackupError(RuntimeError):
    """An expected failure of a backup or restore, reported as one line."""


# -- helpers ---------------------------------------------------------------------------------
def _now() -> datetime:
    return datetime.now(UTC)


def _tool(name: str) -> str:
    return str(find_bindir() / name)


def _client(url: str) -> tuple[str, dict[str, str]]:
    """(conninfo without the password, environment carrying it) for a client program."""
    params = conninfo_to_dict(url)
    password = params.pop("password", None)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None}), env


def _run(argv: list[str], what: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if ln.strip()]
        raise BackupError(f"{what} failed: {lines[-1] if lines else f'exit {proc.returncode}'}")
    return proc.stdout


def with_database(url: str, name: str) -> str:
    """The same server's URL for database `name`."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(name)))


def _stamp_of(name: str, pattern: re.Pattern[str]) -> datetime | None:
    m = pattern.match(name)
    return datetime.strptime(m.group(1), STAMP).replace(tzinfo=UTC) if m else None


def _unique(directory: Path, stem: str, suffix: str = "") -> Path:
    path = directory / f"{stem}{suffix}"
    n = 1
    while path.exists() or path.with_name(path.name + ".sha256").exists():
        path = directory / f"{stem}-{n}{suffix}"
        n += 1
    return path


# -- checksums -------------------------------------------------------------------------------
def sha256_file(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checksum_path(path: Path) -> Path:
    """`FILE.sha256` beside FILE (sha256sum's format: `<hex>  <name>`)."""
    return path.with_name(path.name + ".sha256")


def check_checksum(path: Path) -> bool:
    """True when FILE.sha256 exists and matches; False when there is none; BackupError when
    it does not match."""
    sums = checksum_path(path)
    if not sums.exists():
        return False
    expected = sums.read_text().split()[0].lower() if sums.read_text().strip() else ""
    if sha256_file(path) != expected:
        raise BackupError(f"{path.name} does not match its checksum {sums.name}: do not use it")
    return True


# -- logical backups -------------------------------------------------------------------------
def verify_dump(path: Path) -> int:
    """`pg_restore --list`: the number of entries of the archive, or BackupError."""
    if not path.is_file():
        raise BackupError(f"{path}: no such backup file")
    out = _run([_tool("pg_restore"), "--list", str(path)], f"verifying {path.name}")
    entries = sum(1 for ln in out.splitlines() if ln.strip() and not ln.startswith(";"))
    if entries == 0:
        raise BackupError(f"verifying {path.name} failed: the archive lists no entries")
    return entries


def verify_or_discard(path: Path) -> int:
    """verify_dump(), deleting the file (and its checksum) when it fails."""
    try:
        return verify_dump(path)
    except BackupError:
        path.unlink(missing_ok=True)
        checksum_path(path).unlink(missing_ok=True)
        raise


def dump(url: str, directory: Path, *, now: datetime | None = None) -> Path:
    """pg_dump -Fc (compressed) of the database at url into directory/polis-<stamp>.dump."""
    directory.mkdir(parents=True, exist_ok=True)
    path = _unique(directory, f"polis-{(now or _now()).strftime(STAMP)}", ".dump")
    partial = path.with_name(f".{path.name}.partial")
    conninfo, env = _client(url)
    try:
        _run(
            [
                _tool("pg_dump"),
                "--format=custom",
                "--compress=6",
                "--no-password",
                f"--file={partial}",
                f"--dbname={conninfo}",
            ],
            "pg_dump",
            env,
        )
        partial.rename(path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def prune(directory: Path, retention_days: int, *, now: datetime | None = None) -> list[Path]:
    """Delete our backups (by name: polis-<stamp>.dump and its .sha256, polis-base-<stamp>/)
    whose stamp is older than retention_days; the newest base backup is always kept.
    0 keeps everything. Returns what was deleted."""
    if retention_days <= 0 or not directory.is_dir():
        return []
    cutoff = (now or _now()) - timedelta(days=retention_days)
    deleted: list[Path] = []
    for path in sorted(directory.iterdir()):
        stamp = _stamp_of(path.name, DUMP_RE)
        if stamp is not None and stamp < cutoff and path.is_file():
            path.unlink()
            deleted.append(path)
            sums = checksum_path(path)
            if sums.exists():
                sums.unlink()
                deleted.append(sums)
    bases = base_backups(directory)
    for base in bases[:-1]:
        stamp = _stamp_of(base.name, BASE_RE)
        if stamp is not None and stamp < cutoff:
            shutil.rmtree(base)
            deleted.append(base)
    return deleted


def upload(command: str, path: Path) -> None:
    """Run the upload command with {file} replaced by the quoted path (appended when absent)."""
    quoted = shlex.quote(str(path))
    line = command.replace("{file}", quoted) if "{file}" in command else f"{command} {quoted}"
    # The operator's own command line (like archive_command); only the path is substituted.
    proc = subprocess.run(line, shell=True, capture_output=True, text=True)  # noqa: S602
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if ln.strip()]
        detail = lines[-1] if lines else f"exit {proc.returncode}"
        raise BackupError(f"upload failed ({detail}); the backup is kept at {path}")


@dataclass
class Backup:
    """What `polis backup` made."""

    path: Path
    size: int
    sha256: str
    entries: int = 0
    deleted: list[Path] = field(default_factory=list)


def make_backup(url: str, directory: Path, *, retention_days: int) -> Backup:
    """Dump, verify (a failure deletes the file), checksum, then apply retention."""
    path = dump(url, directory)
    entries = verify_or_discard(path)
    digest = sha256_file(path)
    checksum_path(path).write_text(f"{digest}  {path.name}\n")
    deleted = prune(directory, retention_days)
    return Backup(path, path.stat().st_size, digest, entries, deleted)


def restore_dump(url: str, path: Path, database: str) -> str:
    """pg_restore FILE into a new database `database` on the server of url; its URL."""
    if not _DB_NAME.match(database):
        raise BackupError(f"{database!r} is not a plain database name (letters, digits, _)")
    check_checksum(path)
    verify_dump(path)
    admin = with_database(url, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("select 1 from pg_database where datname = %s", (database,)).fetchone():
            raise BackupError(f"database {database!r} already exists; restore into a new name")
        conn.execute(f'create database "{database}" template template0')
    target = with_database(url, database)
    conninfo, env = _client(target)
    try:
        _run(
            [
                _tool("pg_restore"),
                "--exit-on-error",
                "--single-transaction",
                "--no-owner",
                "--no-password",
                f"--dbname={conninfo}",
                str(path),
            ],
            f"restoring {path.name}",
            env,
        )
    except BackupError:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{database}" with (force)')
        raise
    return target


# -- base backups ----------------------------------------------------------------------------
def base_backups(directory: Path) -> list[Path]:
    """Finished base backups in directory, oldest first."""
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if p.is_dir() and BASE_RE.match(p.name)]
    return sorted(found, key=lambda p: (base_info(p).get("finished_at", ""), p.name))


def base_info(base: Path) -> dict[str, str]:
    """The metadata Polis wrote beside a base backup ({} when there is none)."""
    try:
        data = json.loads((base / BASE_META).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()}


def _backup_label(base: Path, fmt: str) -> str:
    if fmt == "plain":
        return (base / "backup_label").read_text()
    with tarfile.open(base / "base.tar.gz") as tar:
        for member in tar:
            if member.name in ("backup_label", "./backup_label"):
                fh = tar.extractfile(member)
                if fh is not None:
                    return fh.read().decode()
    raise BackupError(f"{base}: no backup_label in base.tar.gz")


def _verify_base(base: Path, fmt: str) -> None:
    if fmt == "plain":
        _run([_tool("pg_verifybackup"), "--quiet", str(base)], "pg_verifybackup")
        return
    for name in ("base.tar.gz", "pg_wal.tar.gz"):
        try:
            with tarfile.open(base / name) as tar:
                for _member in tar:  # reads every block: gzip CRCs and tar headers
                    pass
        except (OSError, tarfile.TarError, EOFError) as exc:
            raise BackupError(f"verifying {base.name}/{name} failed: {exc}") from None


def base_backup(url: str, directory: Path, *, fmt: str = "tar", source: str = "embedded") -> Path:
    """pg_basebackup into directory/polis-base-<finish stamp>/ (tar+gzip or plain, WAL
    streamed in), verified, with BASE_META recording when it finished and its start WAL."""
    if fmt not in ("tar", "plain"):
        raise BackupError(f"--format must be tar or plain, not {fmt!r}")
    directory.mkdir(parents=True, exist_ok=True)
    partial = directory / f".polis-base-{_now().strftime(STAMP)}-{os.getpid()}.partial"
    conninfo, env = _client(url)
    argv = [
        _tool("pg_basebackup"),
        f"--dbname={conninfo}",
        f"--pgdata={partial}",
        "--format=" + ("t" if fmt == "tar" else "p"),
        "--wal-method=stream",
        "--checkpoint=fast",
        "--no-password",
        "--label=polis base backup",
    ]
    if fmt == "tar":
        argv.append("--gzip")
    try:
        _run(argv, "pg_basebackup", env)
        finished = _now()
        _verify_base(partial, fmt)
        label = _backup_label(partial, fmt)
        m = re.search(r"START WAL LOCATION: \S+ \(file ([0-9A-F]{24})\)", label)
        meta = {
            "format": fmt,
            "source": source,
            "finished_at": finished.isoformat(),
            "start_wal": m.group(1) if m else "",
        }
        (partial / BASE_META).write_text(json.dumps(meta, indent=2) + "\n")
        final = _unique(directory, f"polis-base-{finished.strftime(STAMP)}")
        partial.rename(final)
    finally:
        if partial.exists():
            shutil.rmtree(partial)
    return final


def prune_wal(archive: Path, bases: Iterable[Path]) -> int:
    """Remove archived WAL older than the oldest kept base backup (pg_archivecleanup)."""
    starts = [base_info(b).get("start_wal", "") for b in bases]
    starts = [s for s in starts if s]
    if not starts or not archive.is_dir():
        return 0
    oldest = min(starts, key=lambda s: s[8:])  # log+segment, whatever the timeline
    before = sum(1 for _ in archive.iterdir())
    _run([_tool("pg_archivecleanup"), str(archive), oldest], "pg_archivecleanup")
    return before - sum(1 for _ in archive.iterdir())


# -- point-in-time recovery ------------------------------------------------------------------
def parse_time(text: str) -> datetime:
    """An ISO-8601 time ('2026-11-23 15:04:05+00'); without an offset it is UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BackupError(
            f"--to-time {text!r} is not a time like '2026-11-23 15:04:05+00'"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def choose_base(directory: Path, target: datetime) -> Path:
    """The newest base backup that finished before target."""
    usable = [
        b
        for b in base_backups(directory)
        if base_info(b).get("finished_at")
        and datetime.fromisoformat(base_info(b)["finished_at"]) < target
    ]
    if not usable:
        raise BackupError(
            f"no base backup in {directory} finished before {target.isoformat(sep=' ')}"
            " (take them with `polis backup --base`)"
        )
    return usable[-1]


def _prepare(pg: EmbeddedPostgres) -> None:
    for d in (pg.base_dir, pg.data_dir, pg.run_dir, pg.log_file.parent):
        d.mkdir(parents=True, exist_ok=True)
        if pg.user.switch:
            os.chown(d, pg.user.uid, pg.user.gid)
    os.chmod(pg.data_dir, 0o700)


def _chown_tree(pg: EmbeddedPostgres, root: Path) -> None:
    if not pg.user.switch:
        return
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            os.lchown(os.path.join(dirpath, name), pg.user.uid, pg.user.gid)
    os.chown(root, pg.user.uid, pg.user.gid)


def _extract(base: Path, data_dir: Path) -> None:
    fmt = base_info(base).get("format", "tar")
    if fmt == "plain":
        for item in base.iterdir():
            if item.name == BASE_META:
                continue
            dest = data_dir / item.name
            if item.is_dir() and not item.is_symlink():
                shutil.copytree(item, dest, symlinks=True)
            else:
                shutil.copy2(item, dest, follow_symlinks=False)
        return
    with tarfile.open(base / "base.tar.gz") as tar:
        tar.extractall(data_dir, filter="tar")
    wal = base / "pg_wal.tar.gz"
    if wal.exists():
        (data_dir / "pg_wal").mkdir(exist_ok=True)
        with tarfile.open(wal) as tar:
            tar.extractall(data_dir / "pg_wal", filter="tar")


def _log_tail(pg: EmbeddedPostgres) -> str:
    try:
        lines = pg.log_file.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    fatal = [ln for ln in lines if "FATAL" in ln or "PANIC" in ln]
    return (fatal or lines or [""])[-1].strip()


def recover(
    base: Path,
    target: datetime,
    archive: Path,
    into: EmbeddedPostgres,
    *,
    credentials: Path,
    timeout: float = 120.0,
) -> str:
    """Point-in-time recovery: base backup into `into`'s empty data directory, WAL from
    archive up to target, then promote; `into` runs afterwards. Returns its URL."""
    if into.data_dir.exists() and any(into.data_dir.iterdir()):
        raise BackupError(f"{into.data_dir} is not empty; recovery needs a new directory")
    if not archive.is_dir():
        raise BackupError(f"the WAL archive {archive} does not exist")
    _prepare(into)
    _extract(base, into.data_dir)
    # The source's archiving settings: `into` writes its own at start (into.wal_archive),
    # so a recovered copy never archives its new timeline into the source's archive.
    (into.data_dir / ARCHIVE_CONF).unlink(missing_ok=True)
    os.chmod(into.data_dir, 0o700)
    if into.credentials != credentials:
        shutil.copyfile(credentials, into.credentials)
        os.chmod(into.credentials, 0o600)
    restore = f"cp {shlex.quote(str(archive))}/%f %p".replace("'", "''")
    with open(into.data_dir / "postgresql.auto.conf", "a") as fh:
        fh.write(
            "\n# Point-in-time recovery by Polis (removed once promoted)\n"
            f"restore_command = '{restore}'\n"
            f"recovery_target_time = '{target.isoformat(sep=' ')}'\n"
            "recovery_target_action = 'promote'\n"
        )
    (into.data_dir / "recovery.signal").write_text("")
    _chown_tree(into, into.data_dir)
    try:
        into.start()
    except EmbeddedError as exc:
        raise BackupError(f"recovery failed: {_log_tail(into) or exc}") from None
    url = into.url()
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
                row = conn.execute("select pg_is_in_recovery()").fetchone()
                if row is not None and not row[0]:
                    for name in ("restore_command", "recovery_target_time"):
                        conn.execute(f"alter system reset {name}")
                    conn.execute("alter system reset recovery_target_action")
                    conn.execute("select pg_reload_conf()")
                    return url
        except psycopg.OperationalError:
            if not into.running():
                raise BackupError(f"recovery failed: {_log_tail(into)}") from None
        if time.monotonic() > deadline:
            into.stop()
            raise BackupError(
                f"recovery did not finish within {timeout:.0f} s; see {into.log_file}"
            )
        time.sleep(0.2)


def recover_in_place(
    pg: EmbeddedPostgres, base: Path, target: datetime, archive: Path
) -> tuple[str, Path]:
    """Recover into the cluster's own place: stop it, move its data directory aside (kept,
    never deleted), recover, start. On failure the old directory is put back. Returns the
    URL and where the old data directory went."""
    stamp = _now().strftime(STAMP)
    pg.wal_archive = pg.wal_archive  # pin it: the setting lives in the data directory
    was_running = pg.stop()
    aside = pg.data_dir.with_name(f"data.before-pitr-{stamp}")
    if pg.data_dir.exists():
        pg.data_dir.rename(aside)
    try:
        url = recover(base, target, archive, pg, credentials=pg.credentials)
    except BaseException:
        if pg.running():
            pg.stop()
        if pg.data_dir.exists():
            pg.data_dir.rename(pg.data_dir.with_name(f"data.failed-pitr-{stamp}"))
        if aside.exists():
            aside.rename(pg.data_dir)
            if was_running:
                pg.start()
        raise
    return url, aside
