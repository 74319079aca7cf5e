"""Health configuration routes: plans (with benefits and exclusions) and providers (with
contracts), under /health."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response, status

from polis.db.session import DBSession
from polis.health import schemas
from polis.health.models import Plan, Provider
from polis.health.service import PlanView, ProviderView
from polis.health.service import plan as plan_service
from polis.health.service import provider as provider_service
from polis.iam.auth import Principal, require
from polis.platform.idempotency import IdempotencyKey
from polis.platform.pagination import Keyset, Page, PageQuery, paginate
from polis.platform.schemas import Problem, ValidationProblem

router = APIRouter(prefix="/health")

PlansRead = Annotated[Principal, Depends(require("health.plans:read"))]
ConfigWrite = Annotated[Principal, Depends(require("health.config:write"))]
ProvidersRead = Annotated[Principal, Depends(require("health.providers:read"))]
ProvidersWrite = Annotated[Principal, Depends(require("health.providers:write"))]

PlanCode = Annotated[str, Path(min_length=1, max_length=50)]
ProviderCode = Annotated[str, Path(min_length=1, max_length=50)]

_PROBLEM: dict[str, Any] = {"model": Problem}
_INVALID: dict[str, Any] = {"model": ValidationProblem}

_PLANS_BY_CODE = Keyset("health.plans.plan_code", Plan.plan_code, Plan.id)
_PROVIDERS_BY_CODE = Keyset("health.providers.provider_code", Provider.provider_code, Provider.id)


def _plan_detail(view: PlanView) -> schemas.PlanDetail:
    return schemas.PlanDetail(
        **schemas.Plan.model_validate(view.plan).model_dump(),
        benefits=[schemas.Benefit.model_validate(b) for b in view.benefits],
        exclusions=[schemas.Exclusion.model_validate(e) for e in view.exclusions],
    )


def _provider_detail(view: ProviderView) -> schemas.ProviderDetail:
    return schemas.ProviderDetail(
        **schemas.Provider.model_validate(view.provider).model_dump(),
        contracts=[schemas.Contract.model_validate(c) for c in view.contracts],
    )


# --- plans --------------------------------------------------------------------------------


@router.post(
    "/plans",
    tags=["health"],
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.PlanDetail,
    responses={403: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def create_plan(
    body: schemas.PlanCreate, principal: ConfigWrite, session: DBSession, idem: IdempotencyKey
) -> Response:
    """Create a plan with its benefits and exclusions, all or nothing."""
    view = await plan_service.create(session, body)
    return await idem.respond(session, _plan_detail(view), status_code=201)


@router.get("/plans", tags=["health"], response_model=Page[schemas.Plan])
async def list_plans(
    principal: PlansRead, session: DBSession, page: PageQuery
) -> Page[schemas.Plan]:
    """List plans by plan_code, one cursor page at a time (without their benefits)."""
    items, next_cursor = await paginate(session, plan_service.statement(), _PLANS_BY_CODE, page)
    return Page[schemas.Plan](
        items=[schemas.Plan.model_validate(p) for p in items], next_cursor=next_cursor
    )


@router.get(
    "/plans/{plan_code}",
    tags=["health"],
    response_model=schemas.PlanDetail,
    responses={404: _PROBLEM},
)
async def get_plan(
    plan_code: PlanCode, principal: PlansRead, session: DBSession
) -> schemas.PlanDetail:
    """One plan with its benefits and its own exclusions."""
    return _plan_detail(await plan_service.get(session, plan_code))


@router.patch(
    "/plans/{plan_code}",
    tags=["health"],
    response_model=schemas.PlanDetail,
    responses={403: _PROBLEM, 404: _PROBLEM, 422: _INVALID},
)
async def update_plan(
    plan_code: PlanCode, body: schemas.PlanUpdate, principal: ConfigWrite, session: DBSession
) -> schemas.PlanDetail:
    """Change plan fields; fields left out stay as they are."""
    view = await plan_service.update(session, plan_code, body.model_dump(exclude_unset=True))
    return _plan_detail(view)


# --- providers ----------------------------------------------------------------------------


@router.post(
    "/providers",
    tags=["health"],
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.ProviderDetail,
    responses={403: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def create_provider(
    body: schemas.ProviderCreate,
    principal: ProvidersWrite,
    session: DBSession,
    idem: IdempotencyKey,
) -> Response:
    """Register a provider with its contracts; the bank account is stored encrypted."""
    view = await provider_service.create(session, body)
    return await idem.respond(session, _provider_detail(view), status_code=201)


@router.get("/providers", tags=["health"], response_model=Page[schemas.Provider])
async def list_providers(
    principal: ProvidersRead, session: DBSession, page: PageQuery
) -> Page[schemas.Provider]:
    """List providers by provider_code, one cursor page at a time (without contracts)."""
    items, next_cursor = await paginate(
        session, provider_service.statement(), _PROVIDERS_BY_CODE, page
    )
    return Page[schemas.Provider](
        items=[schemas.Provider.model_validate(p) for p in items], next_cursor=next_cursor
    )


@router.get(
    "/providers/{provider_code}",
    tags=["health"],
    response_model=schemas.ProviderDetail,
    responses={404: _PROBLEM},
)
async def get_provider(
    provider_code: ProviderCode, principal: ProvidersRead, session: DBSession
) -> schemas.ProviderDetail:
    """One provider with its contracts; the bank account masked."""
    return _provider_detail(await provider_service.get(session, provider_code))


@router.patch(
    "/providers/{provider_code}",
    tags=["health"],
    response_model=schemas.ProviderDetail,
    responses={403: _PROBLEM, 404: _PROBLEM, 422: _INVALID},
)
async def update_provider(
    provider_code: ProviderCode,
    body: schemas.ProviderUpdate,
    principal: ProvidersWrite,
    session: DBSession,
) -> schemas.ProviderDetail:
    """Change provider fields (a new bank account is encrypted); left-out fields stay."""
    view = await provider_service.update(
        session, provider_code, body.model_dump(exclude_unset=True)
    )
    return _provider_detail(view)
