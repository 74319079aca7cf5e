"""The permission matrix and the route table, generated from the code (decision 0061).

Two sources, nothing typed by hand: `polis.iam.permissions` (the permissions, what they mean
and `ROLE_PERMISSIONS`) and the app's OpenAPI document, where
`polis.iam.auth.record_permissions` writes each operation's permission as `x-permission`.
docs/security.md holds the generated sections between markers; a test fails when they differ
from what this module produces, and `polis users permissions --write docs/security.md`
rewrites them.

An `x-permission` is "public" (no token), "authenticated" (any signed-in user), one
permission, "a | b" (any of them, one `require("a", "b")`) or "a, b" (several `require`s in
one dependency tree: all of them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from polis.iam.permissions import PERMISSIONS, ROLE_PERMISSIONS, Role

PUBLIC = "public"
AUTHENTICATED = "authenticated"
METHODS = ("get", "post", "put", "patch", "delete")
API_PREFIX = "/api/v1/"

# Column headings of the matrix (a role missing here is shown by its full name).
ROLE_ABBREVIATIONS: dict[str, str] = {
    Role.CUSTOMER: "CUS",
    Role.MEMBER: "MEM",
    Role.PROVIDER: "PRV",
    Role.AGENT: "AGT",
    Role.UNDERWRITER: "UW",
    Role.ADJUSTER: "ADJ",
    Role.SURVEYOR: "SUR",
    Role.CLAIMS_PROCESSOR: "CP",
    Role.MEDICAL_REVIEWER: "MR",
    Role.FINANCE: "FIN",
    Role.AUDITOR: "AUD",
    Role.ADMIN: "ADM",
    Role.SUPER_ADMIN: "SA",
}
# The order of the matrix columns: self-service, provider, motor staff, health staff, the rest.
ROLE_ORDER: tuple[str, ...] = tuple(ROLE_ABBREVIATIONS)

SECTIONS = ("roles", "permission-matrix", "permissions", "routes")
_BEGIN = "<!-- generated:{name} (polis users permissions --write docs/security.md) -->"
_END = "<!-- /generated:{name} -->"


@dataclass(frozen=True)
class Operation:
    """One OpenAPI operation and the permission it declares (None: declares nothing)."""

    method: str
    path: str
    permission: str | None


def roles() -> list[Role]:
    """Every role, in matrix order (roles added later go last, in enum order)."""
    ordered = [Role(r) for r in ROLE_ORDER if r in Role.__members__]
    return ordered + [r for r in Role if r not in ordered]


def abbreviation(role: Role) -> str:
    """The role's column heading."""
    return ROLE_ABBREVIATIONS.get(role, role.value)


def alternatives(permission: str) -> list[list[str]]:
    """An x-permission as a conjunction of disjunctions: "a | b, c" -> [["a", "b"], ["c"]]."""
    return [
        [p.strip() for p in part.split("|") if p.strip()]
        for part in permission.split(",")
        if part.strip()
    ]


def named_permissions(permission: str) -> list[str]:
    """Every permission an x-permission names (none for public / authenticated)."""
    if permission in (PUBLIC, AUTHENTICATED):
        return []
    return [p for group in alternatives(permission) for p in group]


def role_may(role: Role | str, permission: str) -> bool:
    """Whether a signed-in user of `role` passes the permission checks of `permission`."""
    if permission in (PUBLIC, AUTHENTICATED):
        return True
    granted = ROLE_PERMISSIONS.get(Role(role), frozenset())
    return all(any(p in granted for p in group) for group in alternatives(permission))


def roles_allowed(permission: str) -> list[Role]:
    """The roles that pass `permission`, in matrix order."""
    return [r for r in roles() if role_may(r, permission)]


def operations(spec: Mapping[str, Any], prefix: str = API_PREFIX) -> list[Operation]:
    """The operations under `prefix` of an OpenAPI document, sorted by path then method."""
    found = [
        Operation(method, path, op.get("x-permission"))
        for path, item in spec.get("paths", {}).items()
        if path.startswith(prefix)
        for method, op in item.items()
        if method in METHODS
    ]
    return sorted(found, key=lambda o: (o.path, METHODS.index(o.method)))


def openapi_spec() -> dict[str, Any]:
    """The OpenAPI document of the app as `create_app` builds it (no database is opened)."""
    from polis.app import create_app
    from polis.config import get_settings

    return create_app(get_settings()).openapi()


# --- markdown -------------------------------------------------------------------------------


def _table(header: Iterable[str], rows: Iterable[Iterable[str]], align: str = "---") -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align for _ in head) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _code(text: str) -> str:
    return f"`{text}`"


def roles_markdown() -> str:
    """The legend of the matrix columns: abbreviation, role, how many permissions."""
    return _table(
        ("Column", "Role", "Permissions"),
        ((abbreviation(r), _code(r.value), str(len(ROLE_PERMISSIONS.get(r, ())))) for r in roles()),
    )


def matrix_markdown() -> str:
    """Role x permission: one row per permission, one column per role, ✓ where granted."""
    columns = roles()
    return _table(
        ["Permission", *(abbreviation(r) for r in columns)],
        (
            [_code(p), *("✓" if p in ROLE_PERMISSIONS.get(r, ()) else "" for r in columns)]
            for p in PERMISSIONS
        ),
    )


def permissions_markdown(ops: list[Operation]) -> str:
    """Each permission, its meaning and how many operations need it."""
    used: dict[str, int] = dict.fromkeys(PERMISSIONS, 0)
    for op in ops:
        for p in set(named_permissions(op.permission or "")):
            used[p] = used.get(p, 0) + 1
    return _table(
        ("Permission", "Meaning", "Operations"),
        (
            (_code(p), text, str(used[p]) if used[p] else "none yet")
            for p, text in PERMISSIONS.items()
        ),
    )


def routes_markdown(ops: list[Operation]) -> str:
    """Method, path and permission of every /api/v1 operation."""
    return _table(
        ("Method", "Path", "Permission"),
        (
            (op.method.upper(), _code(op.path), _code(op.permission or "NONE DECLARED"))
            for op in ops
        ),
    )


def sections(spec: Mapping[str, Any]) -> dict[str, str]:
    """The generated sections of docs/security.md, by name."""
    ops = operations(spec)
    return {
        "roles": roles_markdown(),
        "permission-matrix": matrix_markdown(),
        "permissions": permissions_markdown(ops),
        "routes": routes_markdown(ops),
    }


def render(generated: Mapping[str, str]) -> str:
    """All sections with their markers, as they appear in the document."""
    return "\n\n".join(_wrap(name, generated[name]) for name in SECTIONS) + "\n"


def _wrap(name: str, body: str) -> str:
    return f"{_BEGIN.format(name=name)}\n{body}\n{_END.format(name=name)}"


def _pattern(name: str) -> re.Pattern[str]:
    begin, end = re.escape(_BEGIN.format(name=name)), re.escape(_END.format(name=name))
    return re.compile(f"{begin}\n(.*?)\n?{end}", re.DOTALL)


def extract(document: str) -> dict[str, str]:
    """The generated sections found in a document (a missing section is absent)."""
    found = {}
    for name in SECTIONS:
        match = _pattern(name).search(document)
        if match:
            found[name] = match.group(1)
    return found


def splice(document: str, generated: Mapping[str, str]) -> str:
    """The document with each generated section replaced; ValueError when a marker is missing."""
    for name in SECTIONS:
        match = _pattern(name).search(document)
        if match is None:
            raise ValueError(f"the document has no section {_BEGIN.format(name=name)!r}")
        document = (
            document[: match.start()] + _wrap(name, generated[name]) + document[match.end() :]
        )
    return document
