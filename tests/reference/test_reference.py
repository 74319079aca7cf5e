"""Reference data: the 0003 migration, the geography it loads, reloading, configuration, ICD-10."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Index, Table, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import Constraint
from typer.testing import CliRunner

from polis.db import migrate
from polis.reference import icd10
from polis.reference.models import Province, SystemConfiguration
from polis.reference.service import (
    DEFAULT_CONFIGURATIONS,
    ConfigurationNotFoundError,
    get_config,
    load_reference,
    parse_config_value,
    read_csv,
)

TABLES = ("provinces", "amphoes", "tambons", "system_configurations")


def _counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {
            t: conn.execute(f"SELECT count(*) FROM ref.{t}").fetchone()[0]  # type: ignore[index]
            for t in TABLES
        }


@pytest.fixture(scope="module")
def ref_url(create_database: Callable[[], str]) -> str:
    """A database of its own at 0003, for tests that commit (reloads)."""
    url = create_database()
    migrate.upgrade(url, "0003_reference")
    return url


# --- schema -------------------------------------------------------------------------------


def _schema(item: Any) -> str | None:
    """The schema an Alembic comparison entry is about."""
    if isinstance(item, list):  # modify_* entries: (op, schema, table, column, ...)
        return str(item[0][1])
    obj = item[1]
    if isinstance(obj, str):  # add_column / remove_column: (op, schema, table, column)
        return obj
    if isinstance(obj, Table):
        return obj.schema
    if isinstance(obj, Index | Constraint):
        return obj.table.schema  # type: ignore[union-attr]
    return None


def test_models_match_migration_in_schema_ref(db_url: str) -> None:
    assert [d for d in migrate.diff(db_url) if _schema(d) == "ref"] == []


def test_diff_filter_sees_a_drift_in_ref(create_database: Callable[[], str]) -> None:
    url = create_database()
    migrate.upgrade(url, "0003_reference")
    with psycopg.connect(url) as conn:
        conn.execute("DROP INDEX ref.idx_tambons_postal_code")
        conn.execute("COMMENT ON TABLE ref.amphoes IS 'changed'")
    found = [d for d in migrate.diff(url) if _schema(d) == "ref"]
    assert {d[0] for d in found} == {"add_index", "add_table_comment"}


async def test_constraints_and_trigger(session: AsyncSession) -> None:
    checks = (
        "INSERT INTO ref.provinces (province_code, name_th, name_en, region) "
        "VALUES ('99', 'x', 'x', 'MIDWEST')",
        "INSERT INTO ref.provinces (province_code, name_th, name_en, region) "
        "VALUES ('10', 'x', 'x', 'CENTRAL')",
        "INSERT INTO ref.system_configurations (config_key, config_category, config_value, "
        "config_type) VALUES ('K', 'C', '1', 'FLOAT')",
        "INSERT INTO ref.system_configurations (config_key, config_category, config_value, "
        "config_type, environment) VALUES ('K', 'C', '1', 'STRING', 'QA')",
        "INSERT INTO ref.amphoes (amphoe_code, province_id, name_th, name_en) "
        "VALUES ('9999', -1, 'x', 'x')",
    )
    for sql in checks:
        with pytest.raises(Exception, match="violates"):
            async with session.begin_nested():
                await session.execute(text(sql))
    await session.execute(
        text(
            "UPDATE ref.system_configurations SET updated_at = '2000-01-01', config_value = '31' "
            "WHERE config_key = 'POLICY_GRACE_PERIOD_DAYS'"
        )
    )
    row = (
        await session.execute(
            text(
                "SELECT updated_at > '2000-01-02', "
                "(SELECT count(*) FROM audit.audit_log WHERE table_name = "
                "'ref.system_configurations' AND operation = 'UPDATE' "
                "AND 'config_value' = ANY(changed_fields)) "
                "FROM ref.system_configurations WHERE config_key = 'POLICY_GRACE_PERIOD_DAYS'"
            )
        )
    ).one()
    assert row[0] is True  # the trigger overwrote the stale updated_at
    assert row[1] == 1  # and the audit trigger logged the change


# --- geography ------------------------------------------------------------------------------


async def test_counts_match_the_shipped_files(session: AsyncSession) -> None:
    counts = {
        t: (await session.execute(text(f"SELECT count(*) FROM ref.{t}"))).scalar_one()
        for t in ("provinces", "amphoes", "tambons")
    }
    assert counts["provinces"] == 77
    assert 900 <= counts["amphoes"] <= 960
    assert 7000 <= counts["tambons"] <= 7600
    assert counts == {t: len(read_csv(f"{t}.csv")) for t in counts}


async def test_seed_sample_rows(session: AsyncSession) -> None:
    bangkok = (
        await session.execute(
            text("SELECT id, name_th, name_en, region FROM ref.provinces WHERE province_code='10'")
        )
    ).one()
    assert tuple(bangkok) == (1, "กรุงเทพมหานคร", "Bangkok", "CENTRAL")
    amphoes = (
        await session.execute(
            text(
                "SELECT amphoe_code, province_id, name_th, name_en FROM ref.amphoes "
                "WHERE amphoe_code IN ('1001', '1002', '1003') ORDER BY amphoe_code"
            )
        )
    ).all()
    assert [tuple(r) for r in amphoes] == [
        ("1001", 1, "พระนคร", "Phra Nakhon"),
        ("1002", 1, "ดุสิต", "Dusit"),
        ("1003", 1, "หนองจอก", "Nong Chok"),
    ]
    tambons = (
        await session.execute(
            text(
                "SELECT t.tambon_code, a.amphoe_code, t.name_th, t.name_en, t.postal_code "
                "FROM ref.tambons t JOIN ref.amphoes a ON a.id = t.amphoe_id "
                "WHERE t.name_en IN ('Phra Borom Maha Ratchawang', 'Wat Ratchabophit') "
                "ORDER BY t.tambon_code"
            )
        )
    ).all()
    # The seed numbers Wat Ratchabophit 100102; DOPA numbers it 100103 (decision 0020).
    assert [tuple(r) for r in tambons] == [
        ("100101", "1001", "พระบรมมหาราชวัง", "Phra Borom Maha Ratchawang", "10200"),
        ("100103", "1001", "วัดราชบพิธ", "Wat Ratchabophit", "10200"),
    ]
    first = (await session.execute(text("SELECT min(id) FROM ref.tambons"))).scalar_one()
    assert first == 1


async def test_regions_follow_the_six_region_scheme(session: AsyncSession) -> None:
    result = await session.execute(text("SELECT name_en, region FROM ref.provinces"))
    rows: dict[str, str] = {str(r[0]): str(r[1]) for r in result.all()}
    assert {k: rows[k] for k in ("Bangkok", "Chon Buri", "Kanchanaburi", "Chiang Mai")} == {
        "Bangkok": "CENTRAL",
        "Chon Buri": "EAST",
        "Kanchanaburi": "WEST",
        "Chiang Mai": "NORTH",
    }
    assert rows["Khon Kaen"] == "NORTHEAST" and rows["Phuket"] == "SOUTH"
    per_region = {r: list(rows.values()).count(r) for r in set(rows.values())}
    assert per_region == {
        "NORTH": 9,
        "CENTRAL": 22,
        "NORTHEAST": 20,
        "EAST": 7,
        "WEST": 5,
        "SOUTH": 14,
    }


async def test_codes_nest_and_postal_codes_are_five_digits(session: AsyncSession) -> None:
    bad = (
        await session.execute(
            text(
                "SELECT t.tambon_code FROM ref.tambons t "
                "JOIN ref.amphoes a ON a.id = t.amphoe_id "
                "JOIN ref.provinces p ON p.id = a.province_id "
                r"WHERE t.postal_code IS NULL OR t.postal_code !~ '^\d{5}$' "
                r"OR t.tambon_code !~ '^\d{6}$' OR a.amphoe_code !~ '^\d{4}$' "
                r"OR p.province_code !~ '^\d{2}$' "
                "OR left(t.tambon_code, 4) <> a.amphoe_code "
                "OR left(a.amphoe_code, 2) <> p.province_code"
            )
        )
    ).all()
    assert bad == []
    empty = (
        await session.execute(
            text(
                "SELECT count(*) FROM ref.amphoes a WHERE NOT EXISTS "
                "(SELECT 1 FROM ref.tambons t WHERE t.amphoe_id = a.id)"
            )
        )
    ).scalar_one()
    assert empty == 0
    # English names exist everywhere and are Latin script.
    non_latin = (
        await session.execute(
            text("SELECT count(*) FROM ref.tambons WHERE name_en !~ '^[A-Za-z][A-Za-z .()''-]*$'")
        )
    ).scalar_one()
    assert non_latin == 0


async def test_relationships_raise_on_lazy_load(session: AsyncSession) -> None:
    province = (
        await session.execute(select(Province).where(Province.province_code == "10"))
    ).scalar_one()
    with pytest.raises(Exception, match="lazy='raise'"):
        _ = province.amphoes


def test_reload_is_idempotent_and_repairs_edits(ref_url: str) -> None:
    before = _counts(ref_url)
    first = {c.table: c for c in load_reference(ref_url)}
    assert all(c.inserted == c.updated == c.deactivated == 0 for c in first.values())
    assert first["tambons"].unchanged == before["tambons"]
    with psycopg.connect(ref_url) as conn:
        conn.execute("UPDATE ref.tambons SET name_en = 'Edited' WHERE tambon_code = '100101'")
        conn.execute("UPDATE ref.amphoes SET is_active = FALSE WHERE amphoe_code = '1001'")
        conn.execute("DELETE FROM ref.system_configurations WHERE config_key = 'MAX_CLAIM_AMOUNT'")
        conn.execute(
            "UPDATE ref.system_configurations SET config_value = '45' "
            "WHERE config_key = 'POLICY_GRACE_PERIOD_DAYS'"
        )
        conn.execute(
            "INSERT INTO ref.provinces (province_code, name_th, name_en, region) "
            "VALUES ('99', 'ทดสอบ', 'Test', 'WEST')"
        )
    second = {c.table: c for c in load_reference(ref_url)}
    assert (second["tambons"].updated, second["amphoes"].updated) == (1, 1)
    assert second["provinces"].deactivated == 1
    assert second["system_configurations"].inserted == 1
    with psycopg.connect(ref_url) as conn:
        name = conn.execute("SELECT name_en FROM ref.tambons WHERE tambon_code = '100101'")
        assert name.fetchone() == ("Phra Borom Maha Ratchawang",)
        active = conn.execute("SELECT is_active FROM ref.amphoes WHERE amphoe_code = '1001'")
        assert active.fetchone() == (True,)
        grace = conn.execute(
            "SELECT config_value FROM ref.system_configurations "
            "WHERE config_key = 'POLICY_GRACE_PERIOD_DAYS'"
        )
        assert grace.fetchone() == ("45",)  # an operator's value is never overwritten
        conn.execute("DELETE FROM ref.provinces WHERE province_code = '99'")
    assert _counts(ref_url) == before
    third = load_reference(ref_url)
    assert all(c.inserted == c.updated == c.deactivated == 0 for c in third)


def test_reload_refuses_an_unmigrated_database(create_database: Callable[[], str]) -> None:
    with pytest.raises(ValueError, match="migrate the database first"):
        load_reference(create_database())


@pytest.fixture
def cli_env(ref_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from polis.config import get_settings

    monkeypatch.setenv("DATABASE_URL", ref_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("cli_env")
def test_cli_load_prints_counts(ref_url: str) -> None:
    from polis.cli import app

    result = CliRunner().invoke(app, ["reference", "load"])
    assert result.exit_code == 0, result.output
    assert re.search(r"ref\.tambons\s+7\d{3}\s+0\s+0\s+7\d{3}\s+0", result.output)
    assert "ref.provinces" in result.output


def test_downgrade_and_upgrade_on_a_populated_database(
    create_database: Callable[[], str],
) -> None:
    url = create_database()
    migrate.upgrade(url, "0003_reference")
    counts = _counts(url)
    migrate.downgrade(url, "0002_iam")
    with psycopg.connect(url) as conn:
        left = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'ref'").fetchone()
        audit = conn.execute(
            "SELECT count(*) FROM audit.audit_log WHERE table_name LIKE 'ref.%'"
        ).fetchone()
    assert left == (0,) and audit == (0,)
    migrate.upgrade(url, "0003_reference")
    assert _counts(url) == counts


# --- configuration -------------------------------------------------------------------------


def _seed_configurations(shared_dir: Path) -> list[tuple[str, ...]]:
    seed = (shared_dir / "seeds" / "001_fcacabf02ad8973b.txt").read_text(encoding="utf-8")
    block = seed.split("INSERT INTO system_configurations", 1)[1].split(";", 1)[0]
    return re.findall(r"\('([^']*)', '([^']*)', '([^']*)', '([^']*)', '([^']*)'\)", block)


async def test_default_configurations_are_the_seeds(
    session: AsyncSession, shared_dir: Path
) -> None:
    seed = _seed_configurations(shared_dir)
    assert len(seed) == 7
    assert sorted(DEFAULT_CONFIGURATIONS) == sorted(seed)
    rows = (
        await session.execute(
            select(
                SystemConfiguration.config_key,
                SystemConfiguration.config_category,
                SystemConfiguration.config_value,
                SystemConfiguration.config_type,
                SystemConfiguration.description,
            )
        )
    ).all()
    seed_keys = {row[0] for row in seed}
    assert sorted(tuple(r) for r in rows if r[0] in seed_keys) == sorted(seed)
    # Our own settings, added by later migrations (decisions 0018, 0036, 0039, 0049), and
    # nothing else.
    assert {r[0] for r in rows if r[0] not in seed_keys} == {
        "HEALTH_CLAIM_REVIEW_AMOUNT",
        "HEALTH_REIMBURSEMENT_DOCUMENTS",
        "MOTOR_QUOTE_VALIDITY_DAYS",
        "MOTOR_PROMPTPAY_BILLER_ID",
        "MOTOR_INSURER_NAME_TH",
        "MOTOR_INSURER_NAME_EN",
        "MOTOR_INSURER_ADDRESS_TH",
        "MOTOR_INSURER_ADDRESS_EN",
        "MOTOR_INSURER_TAX_ID",
        "MOTOR_INSURER_BRANCH",
        "MOTOR_FRAUD_INVESTIGATION_THRESHOLD",
        "MOTOR_CLAIM_VIDEO_MAX_BYTES",
    }
    defaults = (
        await session.execute(
            select(
                SystemConfiguration.environment,
                SystemConfiguration.is_sensitive,
                SystemConfiguration.is_readonly,
                SystemConfiguration.version,
            ).distinct()
        )
    ).all()
    assert [tuple(r) for r in defaults] == [("ALL", False, False, 1)]


async def test_get_config_types(session: AsyncSession) -> None:
    assert await get_config(session, "POLICY_GRACE_PERIOD_DAYS") == 30
    assert type(await get_config(session, "SESSION_TIMEOUT_HOURS")) is int
    amount = await get_config(session, "MAX_CLAIM_AMOUNT")
    assert isinstance(amount, Decimal) and amount == Decimal("5000000.00")
    assert await get_config(session, "DEFAULT_NO_CLAIM_DISCOUNT") == Decimal("10.0")
    session.add_all(
        [
            SystemConfiguration(
                config_key="TEST_FLAG", config_category="T", config_value="true",
                config_type="BOOLEAN",
            ),
            SystemConfiguration(
                config_key="TEST_JSON", config_category="T", config_value='{"a": [1, 2]}',
                config_type="JSON",
            ),
            SystemConfiguration(
                config_key="TEST_TEXT", config_category="T", config_value=" 007 ",
                config_type="STRING",
            ),
        ]
    )  # fmt: skip
    await session.flush()
    assert await get_config(session, "TEST_FLAG") is True
    assert await get_config(session, "TEST_JSON") == {"a": [1, 2]}
    assert await get_config(session, "TEST_TEXT") == " 007 "
    with pytest.raises(ConfigurationNotFoundError):
        await get_config(session, "NO_SUCH_KEY")


async def test_orm_update_bumps_version(session: AsyncSession) -> None:
    config = (
        await session.execute(
            select(SystemConfiguration).where(
                SystemConfiguration.config_key == "MAX_LOGIN_ATTEMPTS"
            )
        )
    ).scalar_one()
    config.config_value = "6"
    await session.flush()
    assert config.version == 2
    # A writer holding the old version no longer matches any row.
    stale = await session.execute(
        update(SystemConfiguration)
        .where(SystemConfiguration.id == config.id, SystemConfiguration.version == 1)
        .values(config_value="7")
        .execution_options(synchronize_session=False)
    )
    assert stale.rowcount == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("value", "config_type", "expected"),
    [
        ("42", "INTEGER", 42),
        (" -3 ", "INTEGER", -3),
        ("0.10", "DECIMAL", Decimal("0.10")),
        ("FALSE", "BOOLEAN", False),
        ("yes", "BOOLEAN", True),
        ("[1, null]", "JSON", [1, None]),
        ("abc", "STRING", "abc"),
    ],
)
def test_parse_config_value(value: str, config_type: str, expected: object) -> None:
    parsed = parse_config_value(value, config_type)
    assert parsed == expected and type(parsed) is type(expected)


@pytest.mark.parametrize(
    ("value", "config_type"),
    [
        ("4.5", "INTEGER"),
        ("ten", "INTEGER"),
        ("1,000", "DECIMAL"),
        ("NaN", "DECIMAL"),
        ("Infinity", "DECIMAL"),
        ("maybe", "BOOLEAN"),
        ("{bad", "JSON"),
        ("1", "FLOAT"),
    ],
)
def test_parse_config_value_rejects(value: str, config_type: str) -> None:
    with pytest.raises(ValueError):
        parse_config_value(value, config_type)


# --- ICD-10 ---------------------------------------------------------------------------------


def test_icd10_examples() -> None:
    assert icd10.normalise_icd10("A09.0") == "A09.0"
    assert icd10.normalise_icd10("a090") == "A09.0"
    assert icd10.normalise_icd10(" k35 ") == "K35"
    assert icd10.normalise_icd10("B1800") == "B18.00"
    assert icd10.parent_category("K35.8") == "K35"
    assert icd10.parent_category("k358") == "K35"
    assert icd10.parent_category("B18.00") == "B18"
    assert icd10.parent_category("K35") == "K35"
    assert icd10.is_valid_icd10("U07.1")


@pytest.mark.parametrize(
    "code",
    ["", "XI", "K35-K38", "A09.", "K35.80", "K3.58", "A0900", "ZZZ", "123", "K99.9", "A09 0"],
)
def test_icd10_rejects(code: str) -> None:
    assert not icd10.is_valid_icd10(code)
    with pytest.raises(ValueError):
        icd10.normalise_icd10(code)
    with pytest.raises(ValueError):
        icd10.parent_category(code)


ALL_CODES = [c for c in icd10.icd.get_all_codes(True) if icd10.icd.is_category_or_subcategory(c)]


@given(st.sampled_from(ALL_CODES), st.booleans(), st.booleans())
def test_icd10_every_code_normalises_idempotently(code: str, dotted: bool, lower: bool) -> None:
    variant = code if dotted else code.replace(".", "")
    variant = variant.lower() if lower else variant
    normal = icd10.normalise_icd10(variant)
    assert normal == code
    assert icd10.normalise_icd10(normal) == normal
    parent = icd10.parent_category(variant)
    assert len(parent) == 3 and normal.startswith(parent)


@given(st.text(alphabet="ABCKZUXabk0123456789.- ", max_size=8))
def test_icd10_normalise_is_idempotent_on_any_text(code: str) -> None:
    if icd10.is_valid_icd10(code):
        normal = icd10.normalise_icd10(code)
        assert icd10.normalise_icd10(normal) == normal
        assert icd10.is_valid_icd10(normal)
    else:
        with pytest.raises(ValueError):
            icd10.normalise_icd10(code)
