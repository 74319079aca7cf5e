"""The rules that pend a claim for a person and their settings (decision 0025)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from polis.health import rules
from polis.health.claims.common import (
    DOCUMENTS_REQUIRED,
    DOCUMENTS_SETTING,
    REVIEW_AMOUNT,
    REVIEW_AMOUNT_SETTING,
    _claim_status,
)
from polis.health.models import (
    ClaimDocument,
)
from polis.platform.errors import PolisError
from polis.platform.money import quantize
from polis.reference.models import SystemConfiguration
from polis.reference.service import parse_config_value

# --- pend for a person (decision 0025) ----------------------------------------------------


@dataclass(frozen=True)
class ReviewSettings:
    """The settings of the rules that pend a claim for a person; None or () turns one off."""

    review_amount: Decimal | None
    documents: tuple[str, ...]


def _setting_error(key: str, why: str) -> PolisError:
    return PolisError(f"Setting {key} is not valid: {why}.", type_="invalid-configuration")


async def _review_settings(session: AsyncSession, claim_type: str) -> ReviewSettings:
    """HEALTH_CLAIM_REVIEW_AMOUNT and, for a reimbursement claim, HEALTH_REIMBURSEMENT_DOCUMENTS
    from ref.system_configurations in one query (typed as polis.reference.service.get_config
    types them). A missing setting turns its rule off; a malformed one is a server error.
    submit_claim reads the same rows inside its facts statement (`_review_settings_of`):
    settings are read afresh for every claim, never cached."""
    keys = [REVIEW_AMOUNT_SETTING]
    if claim_type == "reimbursement":
        keys.append(DOCUMENTS_SETTING)
    rows = await session.execute(
        select(
            SystemConfiguration.config_key,
            SystemConfiguration.config_value,
            SystemConfiguration.config_type,
        ).where(SystemConfiguration.config_key.in_(keys))
    )
    return _parse_review_settings([tuple(r) for r in rows])


def _review_settings_of(raw: str | None) -> ReviewSettings:
    """The settings from the facts statement's JSON array of [key, value, type]."""
    return _parse_review_settings(json.loads(raw) if raw else [])


def _parse_review_settings(rows: Sequence[Sequence[Any]]) -> ReviewSettings:
    values: dict[str, Any] = {}
    for key, value, config_type in rows:
        try:
            values[key] = parse_config_value(value, config_type)
        except ValueError as exc:
            raise _setting_error(key, str(exc)) from None
    amount = values.get(REVIEW_AMOUNT_SETTING)
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int | Decimal)):
        raise _setting_error(REVIEW_AMOUNT_SETTING, "not a number")
    documents = values.get(DOCUMENTS_SETTING) or []
    if not isinstance(documents, list) or not all(isinstance(d, str) for d in documents):
        raise _setting_error(DOCUMENTS_SETTING, "not a list of document types")
    return ReviewSettings(
        review_amount=None if amount is None else Decimal(amount),
        documents=tuple(sorted(set(documents))),
    )


async def required_documents(session: AsyncSession) -> tuple[str, ...]:
    """The document types a reimbursement claim needs (HEALTH_REIMBURSEMENT_DOCUMENTS)."""
    return (await _review_settings(session, "reimbursement")).documents


async def missing_documents(session: AsyncSession, claim_id: uuid.UUID) -> list[str]:
    """The required document types no claims.claim_document row of the claim has."""
    required = await required_documents(session)
    if not required:
        return []
    present = set(
        (
            await session.scalars(
                select(ClaimDocument.document_type).where(ClaimDocument.claim_id == claim_id)
            )
        ).all()
    )
    return [d for d in required if d not in present]


def _review_steps(
    settings: ReviewSettings, result: rules.AdjudicationResult
) -> list[dict[str, str]]:
    """The reasons (trace steps without amounts) that send a claim to a person, the one
    that blocks approval first. A claim whose every line is denied pays nothing and is not
    held. A claim being submitted has no documents yet: they are uploaded to its id."""
    if _claim_status(result) == "denied":
        return []
    steps = []
    if settings.documents:
        steps.append(
            {
                "code": DOCUMENTS_REQUIRED,
                "message": (
                    "reimbursement claim held for a person until its documents arrive: "
                    + ", ".join(settings.documents)
                ),
            }
        )
    charged = result.totals.charged
    if settings.review_amount is not None and charged > settings.review_amount:
        steps.append(
            {
                "code": REVIEW_AMOUNT,
                "message": (
                    f"charged {charged} is above the review amount "
                    f"{quantize(settings.review_amount)}: held for a person"
                ),
            }
        )
    return steps
