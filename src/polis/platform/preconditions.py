"""Optimistic locking over HTTP: a versioned record's representation carries
`ETag: "<version>"`, and a change sends it back as `If-Match` (RFC 9110); a stale version is
the service's 409, a change that must name one and does not is 428 (RFC 6585)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

from polis.platform.errors import BadRequest, PolisError


class PreconditionRequired(PolisError):
    """A change of a versioned record without If-Match (RFC 6585: 428)."""

    status_code = 428
    type_ = "precondition-required"
    title = "Precondition Required"


IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=100,
        description='The ETag of the record as read, e.g. "3" (its version)',
    ),
]


def etag(version: int | None) -> str:
    """The entity tag of a record: its version, quoted."""
    return f'"{version or 0}"'


def if_match_version(value: str | None, *, required: bool, what: str = "the record") -> int | None:
    """The version an If-Match header names: 428 when required and missing (or `*`), 400
    when it is not one entity tag `"<n>"` (W/ prefix tolerated)."""
    text = (value or "").strip()
    if not text or text == "*":
        if required:
            raise PreconditionRequired(
                f'This change needs If-Match: "<version>" with the ETag of {what} as read.'
            )
        return None
    tag = text.removeprefix("W/").strip()
    if len(tag) >= 2 and tag[0] == tag[-1] == '"':
        tag = tag[1:-1]
    if not tag.isdigit() or len(tag) > 9:
        raise BadRequest('If-Match must be one entity tag, "<version>".', type_="invalid-if-match")
    return int(tag)
