"""`polis backup` and `polis restore` (polis.ops.backup, decision 0054)."""

from __future__ import annotations

import contextlib
import shlex
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from polis.cli import CliError, database, friendly
from polis.config import Settings, get_settings

if TYPE_CHECKING:
    from polis.db.embedded import EmbeddedPostgres


@contextlib.contextmanager
def _one_line() -> Iterator[None]:
    from polis.ops.backup import BackupError

    try:
        yield
    except BackupError as exc:
        raise CliError(str(exc)) from None


def _backup_dir(settings: Settings, given: Path | None) -> Path:
    return (given or settings.backup_dir or settings.var_dir / "backups").resolve()


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _embedded(settings: Settings) -> EmbeddedPostgres:
    from polis.db.embedded import EmbeddedPostgres

    return EmbeddedPostgres(settings.var_dir / "pg", wal_archive=settings.wal_archive_dir)


def _flush_archive(url: str, timeout: float = 30.0) -> None:
    """Close the current WAL segment and wait until the archiver has copied it."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        mode = conn.execute("show archive_mode").fetchone()
        if not mode or mode[0] == "off":
            raise CliError(
                "WAL archiving is off until the embedded server restarts"
                " (polis db stop; polis db start)"
            )
        row = conn.execute("select pg_walfile_name(pg_switch_wal())").fetchone()
        wanted = str(row[0]) if row else ""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = conn.execute(
                "select coalesce(last_archived_wal, '') from pg_stat_archiver"
            ).fetchone()
            if done and str(done[0])[8:] >= wanted[8:]:
                return
            time.sleep(0.2)
    raise CliError(f"WAL segment {wanted} was not archived within {timeout:.0f} s")


@friendly
def backup(
    directory: Path | None = typer.Option(
        None, "--dir", help="Backup directory (default BACKUP_DIR, else <var>/backups)"
    ),
    retention_days: int | None = typer.Option(
        None, "--retention-days", min=0, help="Delete our backups older than N days (0 = keep)"
    ),
    upload_command: str | None = typer.Option(
        None, "--upload-command", help="Run after the backup; {file} is its path"
    ),
    base: bool = typer.Option(
        False, "--base", help="pg_basebackup of the whole server (for --to-time recovery)"
    ),
    fmt: str = typer.Option("tar", "--format", help="With --base: tar (gzip) or plain"),
    verify: Path | None = typer.Option(
        None, "--verify", metavar="FILE", help="Only check FILE (pg_restore --list, checksum)"
    ),
) -> None:
    """Back up the Polis database (pg_dump -Fc, verified), or the server with --base."""
    from polis.ops import backup as b

    settings = get_settings()
    with _one_line():
        if verify is not None:
            entries = b.verify_dump(verify)
            checked = b.check_checksum(verify)
            note = "sha256 matches" if checked else "no .sha256 beside it"
            typer.echo(f"{verify}: ok, {entries} entries, {note}")
            return
        target = _backup_dir(settings, directory)
        days = settings.backup_retention_days if retention_days is None else retention_days
        command = upload_command or settings.backup_upload_command
        if base:
            path, deleted, wal = _base_backup(settings, target, fmt, days)
            typer.echo(f"{path}\nsize {_size(path)} bytes, format {fmt}, verified")
            if wal:
                typer.echo(f"WAL archive: removed {wal} segment(s) older than the oldest base")
        else:
            with database() as url:
                made = b.make_backup(url, target, retention_days=days)
            path, deleted = made.path, made.deleted
            typer.echo(
                f"{made.path}\nsize {made.size} bytes, sha256 {made.sha256}"
                f" (in {b.checksum_path(made.path).name}), verified: {made.entries} entries"
            )
        if deleted:
            typer.echo(f"retention: deleted {len(deleted)} old file(s) older than {days} days")
        if command:
            b.upload(command, path)
            typer.echo("uploaded")


def _base_backup(
    settings: Settings, target: Path, fmt: str, days: int
) -> tuple[Path, list[Path], int]:
    import psycopg

    from polis.db.urls import libpq
    from polis.ops import backup as b

    archive: Path | None = settings.wal_archive_dir
    if settings.database_url:
        path = b.base_backup(libpq(settings.database_url), target, fmt=fmt, source="server")
    else:
        pg = _embedded(settings)
        started = pg.start()
        try:
            if not started and pg.configure_archiving():
                pg.reload()
            with psycopg.connect(pg.url()) as conn:
                row = conn.execute("show archive_mode").fetchone()
            if not row or row[0] != "on":
                typer.echo(
                    "polis: warning: WAL archiving is off until the embedded server restarts"
                    " (polis db stop; polis db start)",
                    err=True,
                )
            path = b.base_backup(pg.url(), target, fmt=fmt, source="embedded")
            archive = pg.wal_archive
        finally:
            if started:
                pg.stop()
    deleted = b.prune(target, days)
    removed = 0
    if archive is not None and days > 0:
        removed = b.prune_wal(archive, b.base_backups(target))
    return path, deleted, removed


@friendly
def restore(
    file: Path | None = typer.Argument(None, help="A backup made by `polis backup` (.dump)"),
    database_name: str | None = typer.Option(
        None, "--database", help="New database to restore into (default polis_restore_<time>)"
    ),
    to_time: str | None = typer.Option(
        None, "--to-time", help="Point-in-time recovery to this time, e.g. '2026-11-23 15:04+00'"
    ),
    base: Path | None = typer.Option(None, "--base", help="With --to-time: this base backup"),
    directory: Path | None = typer.Option(
        None, "--dir", help="Where base backups are (as for backup)"
    ),
    replace: bool = typer.Option(
        False, "--replace", help="With --to-time: recover in the embedded cluster's place"
    ),
) -> None:
    """Restore FILE into a new database, or recover the server to --to-time."""
    settings = get_settings()
    with _one_line():
        if (file is None) == (to_time is None):
            raise CliError("give a backup FILE, or --to-time for point-in-time recovery")
        if file is not None:
            if base is not None or replace:
                raise CliError("--base and --replace go with --to-time")
            _restore_file(settings, file, database_name)
        elif to_time is not None:
            if database_name is not None:
                raise CliError("--database goes with a backup FILE")
            _recover(settings, to_time, base, _backup_dir(settings, directory), replace)


def _restore_file(settings: Settings, file: Path, name: str | None) -> None:
    from polis.db.urls import primary_url
    from polis.ops import backup as b

    name = name or f"polis_restore_{datetime.now(UTC).strftime('%Y%m%d_%H%M%S')}"
    # Like `polis db url`: an embedded server started here keeps running, for the new URL.
    url = b.restore_dump(primary_url(settings, start=True), file, name)
    typer.echo(f"restored {file.name} into database {name}\n{url}")


def _recover(
    settings: Settings, to_time: str, base: Path | None, directory: Path, replace: bool
) -> None:
    from polis.db.embedded import EmbeddedPostgres
    from polis.ops import backup as b

    target = b.parse_time(to_time)
    if target > datetime.now(UTC):
        raise CliError(f"--to-time {to_time!r} is in the future")
    if settings.database_url:
        raise CliError(
            "point-in-time recovery by polis is for the embedded server; for DATABASE_URL's"
            " server follow docs/operations.md (Backups and recovery)"
        )
    chosen = base.resolve() if base is not None else b.choose_base(directory, target)
    info = b.base_info(chosen)
    if not info:
        raise CliError(f"{chosen} is not a base backup made by `polis backup --base`")
    if info.get("source") != "embedded":
        raise CliError(f"{chosen.name} is a backup of another server, not the embedded one")
    if datetime.fromisoformat(info["finished_at"]) >= target:
        raise CliError(f"{chosen.name} finished after {target.isoformat(sep=' ')}; pick older")
    source = _embedded(settings)
    archive = source.wal_archive
    if source.running():
        _flush_archive(source.url())
    when = target.isoformat(sep=" ")
    if replace:
        url, aside = b.recover_in_place(source, chosen, target, archive)
        pg = source
        typer.echo(f"recovered the embedded cluster to {when} from {chosen.name}")
        typer.echo(f"the previous data directory is kept at {aside}")
    else:
        stamp = datetime.now(UTC).strftime(b.STAMP)
        pg = EmbeddedPostgres(settings.var_dir / "pitr" / f"polis-pitr-{stamp}")
        pg.wal_archive = pg.base_dir / "wal_archive"
        if not source.credentials.exists():
            raise CliError(f"{source.credentials} is missing: the recovered cluster's password")
        url = b.recover(chosen, target, archive, pg, credentials=source.credentials)
        typer.echo(f"recovered to {when} from {chosen.name} into a new cluster")
    stop = shlex.join(pg.user.cmd([str(pg.bindir / "pg_ctl"), "stop", "-D", str(pg.data_dir)]))
    typer.echo(f"url: {url}\ndata: {pg.data_dir}\nstop: {stop}")
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    """Add `polis backup` and `polis restore`."""
    app.command("backup")(backup)
    app.command("restore")(restore)
