"""Request and response bodies of the claim lifecycle routes (decision 0025): decision on a
pended claim, void, appeal and its decision, close, and the status history.

A move answers with the claim it addressed (`claim`, after the move) and, when the move
re-adjudicated it, the new claim that replaces it (`replacement`), with `links` between them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from polis.health.schemas import ClaimDetail
from polis.platform.schemas import RequestSchema, Schema


class ClaimDecisionCreate(RequestSchema):
    """A person's decision on a pended claim."""

    decision: Literal["approved", "denied"]
    notes: str | None = Field(default=None, max_length=2000, examples=["Documents complete"])


class ClaimVoidCreate(RequestSchema):
    """Why the claim is voided."""

    reason: str = Field(min_length=1, max_length=500, examples=["Duplicate submission"])


class ClaimAppealCreate(RequestSchema):
    """Why the decision is appealed."""

    reason: str = Field(min_length=1, max_length=2000, examples=["Copay was removed in March"])


class AppealDecisionCreate(RequestSchema):
    """The decision on an appealed claim."""

    decision: Literal["upheld", "rejected"]
    notes: str | None = Field(default=None, max_length=2000)


class ClaimLinks(Schema):
    """API paths of the claim, its history and (re-adjudicated) its replacement."""

    claim: str = Field(examples=["/api/v1/health/claims/5b0c..."])
    history: str
    replacement: str | None = None


class ClaimTransition(Schema):
    """The result of a lifecycle move."""

    previous_status: str = Field(examples=["pended"])
    claim: ClaimDetail
    replacement: ClaimDetail | None = Field(
        default=None, description="The new claim when the move re-adjudicated this one"
    )
    links: ClaimLinks


class StatusChange(Schema):
    """One status change of a claim, as the audit trail recorded it."""

    changed_at: datetime
    operation: Literal["INSERT", "UPDATE"]
    from_status: str | None = Field(description="None for the submission")
    to_status: str | None
    user_id: uuid.UUID | None
    username: str | None
    user_role: str | None
    request_id: uuid.UUID | None
    updated_by: str | None = Field(description="The claim's updated_by after the change")


class ClaimHistory(Schema):
    """A claim's status changes, oldest first."""

    claim_id: uuid.UUID
    claim_number: str
    status: str
    changes: list[StatusChange]
