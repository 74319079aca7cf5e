"""Make the OpenAPI document say what the error handlers do.

Every 4xx documented with the Problem schema is served as application/problem+json; the
422 of every operation with input is a ValidationProblem (not FastAPI's HTTPValidationError);
secured operations document 401, and 403 when they need a permission; operations taking a
`cursor` or an `If-Match` document their 400.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI

from polis.platform.errors import PROBLEM_MEDIA_TYPE
from polis.platform.schemas import FieldError, Problem, ValidationProblem

_REF = "#/components/schemas/{model}"
_PUBLIC = "public"
_AUTHENTICATED = "authenticated"


def _content(name: str) -> dict[str, Any]:
    return {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _REF.format(model=name)}}}


def postprocess(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite error responses of every operation in place; returns the schema."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (Problem, FieldError, ValidationProblem):
        defs = model.model_json_schema(ref_template=_REF)
        defs.pop("$defs", None)
        components[model.__name__] = defs
    for item in schema.get("paths", {}).values():
        for method, op in item.items():
            if method not in {"get", "put", "post", "delete", "patch", "options", "head"}:
                continue
            _operation(op)
    text = json.dumps({k: v for k, v in schema.items() if k != "components"})
    for unused in ("HTTPValidationError", "ValidationError"):
        if f'/{unused}"' not in text and unused in components:
            del components[unused]
    return schema


def _operation(op: dict[str, Any]) -> None:
    responses: dict[str, Any] = op.setdefault("responses", {})
    for code, response in responses.items():
        content = response.get("content", {})
        json_schema = content.get("application/json", {}).get("schema", {})
        if code.startswith(("4", "5")) and json_schema.get("$ref", "").endswith("/Problem"):
            response["content"] = _content("Problem")
    params = {(p.get("in"), str(p.get("name", "")).lower()) for p in op.get("parameters", [])}
    if ("query", "cursor") in params or ("header", "if-match") in params:
        # A cursor that is not ours (invalid-cursor) or a malformed If-Match (invalid-if-match).
        responses.setdefault(
            "400", {"description": "Malformed cursor or If-Match", "content": _content("Problem")}
        )
    if "422" in responses:
        responses["422"] = {
            "description": "Validation Error",
            "content": _content("ValidationProblem"),
        }
    permission = op.get("x-permission")
    if permission and permission != _PUBLIC:
        responses.setdefault(
            "401",
            {"description": "Missing, invalid or expired token", "content": _content("Problem")},
        )
        if permission != _AUTHENTICATED:
            responses.setdefault(
                "403", {"description": f"Needs {permission}", "content": _content("Problem")}
            )


def install_openapi(app: FastAPI) -> None:
    """Wrap app.openapi so that the document is post-processed once, when first asked for."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        return postprocess(original())

    app.openapi = openapi  # type: ignore[method-assign]
