"""The permissions motor routes need, as FastAPI dependencies (polis.iam.permissions lists
them; each route declares exactly one)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from polis.iam.auth import Principal, require

CustomersRead = Annotated[Principal, Depends(require("motor.customers:read"))]
CustomersWrite = Annotated[Principal, Depends(require("motor.customers:write"))]
VehiclesRead = Annotated[Principal, Depends(require("motor.vehicles:read"))]
VehiclesWrite = Annotated[Principal, Depends(require("motor.vehicles:write"))]
QuotesWrite = Annotated[Principal, Depends(require("motor.quotes:write"))]
PoliciesRead = Annotated[Principal, Depends(require("motor.policies:read"))]
PoliciesWrite = Annotated[Principal, Depends(require("motor.policies:write"))]
ConfigWrite = Annotated[Principal, Depends(require("motor.config:write"))]
PaymentsRead = Annotated[Principal, Depends(require("motor.payments:read"))]
PaymentsWrite = Annotated[Principal, Depends(require("motor.payments:write"))]
PoliciesCancel = Annotated[Principal, Depends(require("motor.policies:cancel"))]
PaymentsRefund = Annotated[Principal, Depends(require("motor.payments:refund"))]
PaymentsReconcile = Annotated[Principal, Depends(require("motor.payments:reconcile"))]
ClaimsRead = Annotated[Principal, Depends(require("motor.claims:read"))]
ClaimsReadOwn = Annotated[Principal, Depends(require("motor.claims:read_own"))]
ClaimsSubmitOwn = Annotated[Principal, Depends(require("motor.claims:submit_own"))]
ClaimsWrite = Annotated[Principal, Depends(require("motor.claims:write"))]
ClaimsApprove = Annotated[Principal, Depends(require("motor.claims:approve"))]
ClaimsApproveHigh = Annotated[Principal, Depends(require("motor.claims:approve_high"))]
ClaimsSettle = Annotated[Principal, Depends(require("motor.claims:settle"))]
