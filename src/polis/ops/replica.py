"""A local streaming replica (hot standby) of a PostgreSQL server, made with pg_basebackup -R.

Used by the read-replica test and by developers who want `READ_DATABASE_URL` on one machine
(docs/operations.md, "Read replica"; decision 0055). It is the embedded cluster's machinery
(`EmbeddedPostgres`: the unprivileged cluster account under root, pg_ctl, a port on
127.0.0.1) with the data directory copied from the primary instead of made by initdb:

    replica = StreamingReplica(Path("var/replica"), primary_url)
    replica.start()                # pg_basebackup the first time, then pg_ctl start
    replica.url()                  # READ_DATABASE_URL
    replica.catch_up(primary_url)  # wait until it has replayed what the primary wrote
    replica.stop()

The primary must accept replication connections from 127.0.0.1 for the URL's user (a
superuser or a role WITH REPLICATION; initdb's pg_hba.conf allows it) and run with
`wal_level = replica` or higher (the embedded cluster does).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import psycopg

from polis.db.embedded import EmbeddedError, EmbeddedPostgres
from polis.db.urls import libpq

CATCH_UP_SECONDS = 30.0


def _conninfo_without_password(url: str) -> tuple[str, str | None]:
    """The primary as a libpq keyword string without its password, and the password.

    The password goes to pg_basebackup through PGPASSWORD (not the command line, where `ps`
    would show it); -R then writes it into the replica's primary_conninfo.
    """
    parts = urlsplit(libpq(url))
    password = unquote(parts.password) if parts.password else None
    words = {
        "host": parts.hostname or "127.0.0.1",
        "port": str(parts.port or 5432),
        "user": unquote(parts.username) if parts.username else None,
    }
    return " ".join(f"{k}={v}" for k, v in words.items() if v), password


class StreamingReplica(EmbeddedPostgres):
    """A hot standby of `primary_url` kept in `base_dir`, started on 127.0.0.1."""

    def __init__(self, base_dir: Path, primary_url: str) -> None:
        super().__init__(base_dir)
        self.primary_url = libpq(primary_url)

    # EmbeddedPostgres.start() calls these two: the data directory comes from the primary,
    # and a standby cannot create databases (it has the primary's).
    def _initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            if not (self.data_dir / "standby.signal").exists():
                raise EmbeddedError(f"{self.data_dir} holds a cluster that is not a standby")
            return
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise EmbeddedError(f"{self.data_dir} is not empty and holds no cluster; move it away")
        for d in (self.data_dir, self.run_dir, self.log_file.parent):
            d.mkdir(parents=True, exist_ok=True)
            if self.user.switch:
                os.chown(d, self.user.uid, self.user.gid)
        os.chmod(self.data_dir, 0o700)
        conninfo, password = _conninfo_without_password(self.primary_url)
        env = dict(os.environ)
        if password is not None:
            env["PGPASSWORD"] = password
        argv = [
            self._bin("pg_basebackup"),
            "--pgdata",
            str(self.data_dir),
            "--dbname",
            conninfo,
            "--write-recovery-conf",  # standby.signal and primary_conninfo
            "--wal-method=stream",
            "--checkpoint=fast",
            "--no-password",
        ]
        proc = subprocess.run(self.user.cmd(argv), capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
            raise EmbeddedError(f"pg_basebackup from the primary failed: {tail[0]}")
        # Whatever the primary's configuration (copied with its data directory) says: the
        # replica listens on 127.0.0.1 only, answers queries, and archives no WAL (the
        # primary's archive stays the primary's). postgresql.auto.conf is read last.
        with open(self.data_dir / "postgresql.auto.conf", "a") as conf:
            conf.write("listen_addresses = '127.0.0.1'\nhot_standby = on\narchive_mode = off\n")
        self.credentials.write_text((password or "") + "\n")
        os.chmod(self.credentials, 0o600)

    def _ensure_database(self) -> None:
        return None

    def url(self, database: str | None = None) -> str:
        """libpq URL of the running replica: the primary's user, password and database."""
        info = self.pid_info()
        if info is None:
            raise EmbeddedError("the replica is not running")
        parts = urlsplit(self.primary_url)
        user = parts.username or ""
        password = f":{parts.password}" if parts.password else ""
        name = database or unquote(parts.path.lstrip("/")) or "postgres"
        return f"postgresql://{user}{password}@127.0.0.1:{info[1]}/{quote(name)}"

    def in_recovery(self) -> bool:
        """Whether the running server is a standby (pg_is_in_recovery())."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            row = conn.execute("select pg_is_in_recovery()").fetchone()
        return bool(row and row[0])

    def catch_up(self, primary_url: str | None = None, timeout: float = CATCH_UP_SECONDS) -> str:
        """Wait until the replica has replayed the primary's WAL up to now; the LSN waited for.

        Raises EmbeddedError after `timeout` seconds.
        """
        with psycopg.connect(libpq(primary_url or self.primary_url), autocommit=True) as conn:
            row = conn.execute("select pg_current_wal_lsn()::text").fetchone()
        assert row is not None
        target = str(row[0])
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.url(), autocommit=True) as conn:
            while True:
                done = conn.execute(
                    "select coalesce(pg_last_wal_replay_lsn() >= %s::pg_lsn, false)", (target,)
                ).fetchone()
                if done and done[0]:
                    return target
                if time.monotonic() > deadline:
                    raise EmbeddedError(f"the replica has not replayed {target} in {timeout:g} s")
                time.sleep(0.05)
