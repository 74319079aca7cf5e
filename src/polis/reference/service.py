"""Reference data services: typed configuration values, and (re)loading the Thai geography."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from polis.reference.models import SystemConfiguration

ConfigValue = str | int | Decimal | bool | Any

# Seed 001's defaults, as the 0003 migration inserts them; `load_reference` adds missing ones.
DEFAULT_CONFIGURATIONS: tuple[tuple[str, str, str, str, str], ...] = (
    ("POLICY_GRACE_PERIOD_DAYS", "POLICY", "30", "INTEGER",
     "Grace period for policy renewal in days"),
    ("MAX_CLAIM_AMOUNT", "CLAIMS", "5000000.00", "DECIMAL", "Maximum claim amount in THB"),
    ("DEFAULT_NO_CLAIM_DISCOUNT", "POLICY", "10.0", "DECIMAL",
     "Default no-claim discount percentage"),
    ("PAYMENT_TIMEOUT_MINUTES", "PAYMENT", "15", "INTEGER", "Payment gateway timeout in minutes"),
    ("SMS_OTP_EXPIRY_MINUTES", "SECURITY", "5", "INTEGER", "SMS OTP expiry time in minutes"),
    ("MAX_LOGIN_ATTEMPTS", "SECURITY", "5", "INTEGER",
     "Maximum failed login attempts before account lock"),
    ("SESSION_TIMEOUT_HOURS", "SECURITY", "8", "INTEGER", "User session timeout in hours"),
)  # fmt: skip

_TRUE = frozenset({"true", "t", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "off", "0"})


class ConfigurationNotFoundError(LookupError):
    """No ref.system_configurations row has this key."""


def parse_config_value(value: str, config_type: str) -> ConfigValue:
    """Convert a stored config_value to its Python type; ValueError when it does not parse."""
    if config_type == "STRING":
        return value
    text = value.strip()
    if config_type == "INTEGER":
        return int(text)
    if config_type == "DECIMAL":
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"not a decimal: {value!r}") from None
        if not number.is_finite():
            raise ValueError(f"not a finite decimal: {value!r}")
        return number
    if config_type == "BOOLEAN":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(f"not a boolean: {value!r}")
    if config_type == "JSON":
        return json.loads(text)
    raise ValueError(f"unknown config_type {config_type!r}")


async def get_config(session: AsyncSession, key: str) -> ConfigValue:
    """The typed value of configuration `key`; ConfigurationNotFoundError when it is absent."""
    row = (
        await session.execute(
            select(SystemConfiguration.config_value, SystemConfiguration.config_type).where(
                SystemConfiguration.config_key == key
            )
        )
    ).one_or_none()
    if row is None:
        raise ConfigurationNotFoundError(key)
    return parse_config_value(row.config_value, row.config_type)


# --- Thai geography --------------------------------------------------------------------------


def read_csv(name: str) -> list[dict[str, str]]:
    """Rows of a shipped data file (polis/reference/data/NAME), in file order."""
    source = resources.files("polis.reference").joinpath("data", name)
    return list(csv.DictReader(source.read_text(encoding="utf-8").splitlines()))


@dataclass(frozen=True)
class LoadCount:
    """What one table's reload did."""

    table: str
    rows: int
    inserted: int
    updated: int
    deactivated: int

    @property
    def unchanged(self) -> int:
        """Rows of the data file that were already in the database as they are."""
        return self.rows - self.inserted - self.updated


@dataclass(frozen=True)
class _Table:
    name: str
    file: str
    code: str
    columns: tuple[str, ...]  # staged from the CSV, code first
    parent: tuple[str, str, str] | None  # (parent table, CSV column, FK column)


_GEOGRAPHY = (
    _Table(
        "provinces",
        "provinces.csv",
        "province_code",
        ("province_code", "name_th", "name_en", "region"),
        None,
    ),
    _Table(
        "amphoes",
        "amphoes.csv",
        "amphoe_code",
        ("amphoe_code", "province_code", "name_th", "name_en"),
        ("provinces", "province_code", "province_id"),
    ),
    _Table(
        "tambons",
        "tambons.csv",
        "tambon_code",
        ("tambon_code", "amphoe_code", "name_th", "name_en", "postal_code"),
        ("amphoes", "amphoe_code", "amphoe_id"),
    ),
)


def _upsert_sql(t: _Table) -> str:
    """Stage -> table: insert new codes, update changed rows, reactivate; RETURNING inserted?"""
    values = [c for c in t.columns if c != t.code and (t.parent is None or c != t.parent[1])]
    targets = [t.code, *([t.parent[2]] if t.parent else []), *values, "is_active"]
    sources = [f"s.{t.code}", *(["p.id"] if t.parent else []), *(f"s.{c}" for c in values), "TRUE"]
    join = ""
    if t.parent:
        ptable, pcol, _ = t.parent
        join = f" JOIN ref.{ptable} p ON p.{pcol} = s.{pcol}"
    compared = [c for c in targets if c != t.code]
    return (
        f"INSERT INTO ref.{t.name} ({', '.join(targets)}) "
        f"SELECT {', '.join(sources)} FROM _stage s{join} ORDER BY s.{t.code} "
        f"ON CONFLICT ({t.code}) DO UPDATE SET "
        + ", ".join(f"{c} = EXCLUDED.{c}" for c in compared)
        + f" WHERE ({', '.join(f'{t.name}.{c}' for c in compared)}) IS DISTINCT FROM "
        f"({', '.join(f'EXCLUDED.{c}' for c in compared)}) "
        "RETURNING (xmax = 0) AS inserted"
    )


def load_reference(url: str) -> list[LoadCount]:
    """Upsert the shipped geography by code into the database at `url`, in one transaction.

    Rows whose code is no longer in the data are kept (addresses may point at them) but set
    inactive. Missing seed configuration keys are added; existing values are never touched.
    """
    import psycopg

    counts = []
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        missing = cur.execute("SELECT to_regclass('ref.tambons') IS NULL").fetchone()
        if missing is None or missing[0]:
            raise ValueError("no ref.tambons table: migrate the database first (polis db upgrade)")
        for t in _GEOGRAPHY:
            rows = read_csv(t.file)
            cur.execute(
                "CREATE TEMP TABLE _stage ("
                + ", ".join(
                    f"{c} TEXT NOT NULL" if c != "postal_code" else f"{c} TEXT" for c in t.columns
                )
                + ") ON COMMIT DROP"
            )
            with cur.copy(f"COPY _stage ({', '.join(t.columns)}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row([r[c] or None for c in t.columns])
            cur.execute(_upsert_sql(t))
            flags = [bool(r[0]) for r in cur.fetchall()]
            cur.execute(
                f"UPDATE ref.{t.name} SET is_active = FALSE WHERE is_active IS DISTINCT FROM FALSE "
                f"AND {t.code} NOT IN (SELECT {t.code} FROM _stage)"
            )
            deactivated = cur.rowcount
            cur.execute("DROP TABLE _stage")
            inserted = sum(flags)
            counts.append(
                LoadCount(t.name, len(rows), inserted, len(flags) - inserted, deactivated)
            )
        added = 0
        for config in DEFAULT_CONFIGURATIONS:
            cur.execute(
                "INSERT INTO ref.system_configurations "
                "(config_key, config_category, config_value, config_type, description) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (config_key) DO NOTHING RETURNING id",
                config,
            )
            added += cur.rowcount
        counts.append(LoadCount("system_configurations", len(DEFAULT_CONFIGURATIONS), added, 0, 0))
    return counts
