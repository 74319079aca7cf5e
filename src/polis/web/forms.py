"""Form helpers: the service's field errors mapped to the form's fields."""

from __future__ import annotations

from typing import Any

from polis.platform.errors import PolisError


def field_messages(exc: PolisError, fields: dict[str, str]) -> dict[str, str]:
    """{form field: message} of a service error whose `errors` name fields
    (`body.new_password` -> `new_password`); `fields` maps API field names to form names."""
    found: dict[str, str] = {}
    errors: list[dict[str, Any]] = exc.extra.get("errors", []) or []
    for err in errors:
        name = str(err.get("field", "")).removeprefix("body.")
        form_name = fields.get(name)
        if form_name and form_name not in found:
            found[form_name] = str(err.get("message", ""))
        elif form_name:
            found[form_name] += " " + str(err.get("message", ""))
    return found


def text(form: Any, name: str, max_length: int = 2000) -> str:
    """A text field of a submitted form, stripped ('' when missing)."""
    value = form.get(name)
    return value.strip()[:max_length] if isinstance(value, str) else ""
