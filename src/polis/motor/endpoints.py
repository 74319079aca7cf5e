"""Motor routes under /motor (seed 001): each area in its own module, included here."""

from __future__ import annotations

from fastapi import APIRouter

from polis.motor import (
    claim_assessment_endpoints,
    claim_document_endpoints,
    claim_endpoints,
    claim_settlement_endpoints,
    customer_endpoints,
    dlt_endpoints,
    document_endpoints,
    gateway_endpoints,
    payment_endpoints,
    policy_endpoints,
    quote_endpoints,
    renewal_endpoints,
    vehicle_endpoints,
)

router = APIRouter(prefix="/motor")

for _module in (
    customer_endpoints,
    vehicle_endpoints,
    quote_endpoints,
    dlt_endpoints,
    policy_endpoints,
    payment_endpoints,
    gateway_endpoints,
    renewal_endpoints,
    document_endpoints,
    claim_document_endpoints,  # before claim_endpoints: GET /claims/search vs /claims/{id}
    claim_endpoints,
    claim_assessment_endpoints,
    claim_settlement_endpoints,
):
    router.include_router(_module.router)
