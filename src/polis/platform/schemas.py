"""Shared schema bases and the problem+json documents (for the OpenAPI description)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Schema(BaseModel):
    """Base of response schemas: readable from ORM objects."""

    model_config = ConfigDict(from_attributes=True)


class RequestSchema(BaseModel):
    """Base of request bodies: unknown fields are refused, so a typo is a 422, not a no-op."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(examples=["urn:polis:problem:not-found"])
    title: str = Field(examples=["Not Found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["User 5b0c... does not exist."])
    instance: str = Field(examples=["/api/v1/iam/users/5b0c..."])
    request_id: str | None = Field(examples=["0d6f3c1e-8a4b-4e0e-9b8e-2f1c7a1d9e55"])


class FieldError(BaseModel):
    """One invalid field: its dotted location, a message, and the error type."""

    field: str = Field(examples=["body.items.0.quantity"])
    message: str = Field(examples=["Input should be greater than 0"])
    type: str = Field(examples=["greater_than"])


class ValidationProblem(Problem):
    """A 422 problem listing each invalid field."""

    errors: list[FieldError]
