"""Which database objects belong to Polis (for Alembic's comparison)."""

from __future__ import annotations

import re
from typing import Any

SCHEMAS = (
    "claims",
    "member",
    "provider",
    "benefit",
    "policy",
    "billing",
    "audit",
    "motor",
    "iam",
    "ref",
)

# Partitions are created by functions at run time (create_monthly_partition and friends);
# the models describe only the partitioned parents.
PARTITION = re.compile(r"_(y\d{4}(m\d{2})?|\d{4}|default)$")


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Compare only our schemas, and not the partitions of partitioned tables."""
    if type_ == "schema":
        return name in SCHEMAS
    return not (type_ == "table" and name is not None and PARTITION.search(name))
