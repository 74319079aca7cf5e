"""The iam models agree with migration 0002 (the whole-schema check lives in tests/db)."""

from __future__ import annotations

from typing import Any

from polis.db import migrate


def _schemas(item: Any) -> set[str]:
    """Schemas an Alembic diff entry touches (tables, columns, indexes, constraints)."""
    if isinstance(item, list):
        return set().union(*(_schemas(i) for i in item)) if item else set()
    if isinstance(item, tuple):
        found = set().union(*(_schemas(i) for i in item[1:])) if len(item) > 1 else set()
        if item and str(item[0]).startswith("modify_") and isinstance(item[1], str):
            found.add(item[1])
        return found
    schema = getattr(item, "schema", None)
    table = getattr(item, "table", None)
    if schema is None and table is not None:
        schema = getattr(table, "schema", None)
    return {schema} if isinstance(schema, str) else set()


def test_iam_models_match_migration(db_url: str) -> None:
    assert [d for d in migrate.diff(db_url) if "iam" in _schemas(d)] == []


def test_diff_filter_sees_other_schemas(db_url: str) -> None:
    # Guards the filter above: every entry of the full diff is attributed to some schema.
    assert all(_schemas(d) for d in migrate.diff(db_url))
