"""The permissions health routes need, as FastAPI dependencies (polis.iam.permissions lists
them; each route declares exactly one)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from polis.iam.auth import Principal, require

PlansRead = Annotated[Principal, Depends(require("health.plans:read"))]
ConfigWrite = Annotated[Principal, Depends(require("health.config:write"))]
ProvidersRead = Annotated[Principal, Depends(require("health.providers:read"))]
ProvidersWrite = Annotated[Principal, Depends(require("health.providers:write"))]
PoliciesRead = Annotated[Principal, Depends(require("health.policies:read"))]
PoliciesWrite = Annotated[Principal, Depends(require("health.policies:write"))]
BillingRead = Annotated[Principal, Depends(require("health.billing:read"))]
BillingWrite = Annotated[Principal, Depends(require("health.billing:write"))]
MembersRead = Annotated[Principal, Depends(require("health.members:read"))]
MembersWrite = Annotated[Principal, Depends(require("health.members:write"))]
AccumulatorsRead = Annotated[Principal, Depends(require("health.accumulators:read"))]
PreauthRead = Annotated[Principal, Depends(require("health.preauth:read"))]
PreauthSubmit = Annotated[Principal, Depends(require("health.preauth:submit"))]
PreauthDecide = Annotated[Principal, Depends(require("health.preauth:decide"))]
ClaimsRead = Annotated[Principal, Depends(require("health.claims:read"))]
ClaimsWrite = Annotated[Principal, Depends(require("health.claims:write"))]
ClaimsDecide = Annotated[Principal, Depends(require("health.claims:decide"))]
ClaimsPay = Annotated[Principal, Depends(require("health.claims:pay"))]
DocumentsRead = Annotated[Principal, Depends(require("documents:read"))]
DocumentsWrite = Annotated[Principal, Depends(require("documents:write"))]
