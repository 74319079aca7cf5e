"""Turning the configured or embedded server into URLs for each driver."""

from __future__ import annotations

import re

from polis.config import Settings, get_settings
from polis.db.embedded import EmbeddedPostgres

_SCHEME = re.compile(r"^postgres(?:ql)?(?:\+\w+)?://")


def check(url: str) -> str:
    """The URL itself when it names a PostgreSQL server; else ValueError saying what is wrong."""
    if not _SCHEME.match(url):
        scheme = url.split("://", 1)[0] if "://" in url else url[:20]
        raise ValueError(
            f"DATABASE_URL must be postgresql://user:password@host:port/database, not {scheme!r}"
        )
    return url


def libpq(url: str) -> str:
    """The same server as a plain libpq URL (for psql, pg_dump, check_schema)."""
    return _SCHEME.sub("postgresql://", check(url))


def with_driver(url: str, driver: str) -> str:
    """The same server for a SQLAlchemy driver: 'asyncpg' or 'psycopg'."""
    return _SCHEME.sub(f"postgresql+{driver}://", check(url))


def embedded(settings: Settings | None = None) -> EmbeddedPostgres:
    """The embedded cluster under var/pg."""
    settings = settings or get_settings()
    return EmbeddedPostgres(settings.var_dir / "pg", wal_archive=settings.wal_archive_dir)


def primary_url(settings: Settings | None = None, *, start: bool = True) -> str:
    """libpq URL of the primary: DATABASE_URL, or the embedded cluster (started if asked)."""
    settings = settings or get_settings()
    if settings.database_url:
        return libpq(settings.database_url)
    pg = embedded(settings)
    if start and not pg.running():
        pg.start()
    return pg.url()


def replica_url(settings: Settings | None = None) -> str | None:
    """libpq URL of the read replica, when READ_DATABASE_URL is set."""
    settings = settings or get_settings()
    return libpq(settings.read_database_url) if settings.read_database_url else None
