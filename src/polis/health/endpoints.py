"""Health configuration routes under /health: plans (with benefits and exclusions),
providers (with contracts), policies (with fund transactions) and members (with coverages)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response, status
from sqlalchemy import inspect

from polis.db.session import DBSession, ReadSession
from polis.health import schemas
from polis.health.adjudication import (
    ClaimLineRequest,
    ClaimOutcome,
    ClaimRequest,
    submit_claim,
)
from polis.health.auth import (
    BillingWrite,
    ClaimsRead,
    ClaimsWrite,
    ConfigWrite,
    MembersRead,
    MembersWrite,
    PlansRead,
    PoliciesRead,
    PoliciesWrite,
    ProvidersRead,
    ProvidersWrite,
)
from polis.health.models import Claim, Member, Plan, Policy, Provider
from polis.health.service import (
    ClaimFilter,
    ClaimView,
    FundMovement,
    MemberView,
    PlanView,
    PolicyView,
    ProviderView,
)
from polis.health.service import claim as claim_service
from polis.health.service import member as member_service
from polis.health.service import plan as plan_service
from polis.health.service import policy as policy_service
from polis.health.service import provider as provider_service
from polis.platform.idempotency import IdempotencyKey
from polis.platform.pagination import Keyset, Page, PageQuery, paginate
from polis.platform.schemas import Problem, ValidationProblem

router = APIRouter(prefix="/health")

PlanCode = Annotated[str, Path(min_length=1, max_length=50)]
BenefitCode = Annotated[str, Path(min_length=1, max_length=50)]
ProviderCode = Annotated[str, Path(min_length=1, max_length=50)]
PolicyNumber = Annotated[str, Path(min_length=1, max_length=50)]
MemberNumber = Annotated[str, Path(min_length=1, max_length=50)]

_PROBLEM: dict[str, Any] = {"model": Problem}
_INVALID: dict[str, Any] = {"model": ValidationProblem}

_PLANS_BY_CODE = Keyset("health.plans.plan_code", Plan.plan_code, Plan.id)
_PROVIDERS_BY_CODE = Keyset("health.providers.provider_code", Provider.provider_code, Provider.id)
_POLICIES_BY_NUMBER = Keyset("health.policies.policy_number", Policy.policy_number, Policy.id)
_MEMBERS_BY_NUMBER = Keyset("health.members.member_number", Member.member_number, Member.id)
_CLAIMS_NEWEST_FIRST = Keyset(
    "health.claims.submission_date", Claim.submission_date, Claim.id, descending=True
)


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
    principal: PlansRead, session: ReadSession, page: PageQuery
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


# A plan's benefits and exclusions one at a time (decision 0069). Answers are the benefit or
# exclusion itself; GET /health/plans/{plan_code} lists them all.


@router.post(
    "/plans/{plan_code}/benefits",
    tags=["health"],
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Benefit,
    responses={403: _PROBLEM, 404: _PROBLEM, 422: _INVALID},
)
async def add_benefit(
    plan_code: PlanCode,
    body: schemas.BenefitCreate,
    principal: ConfigWrite,
    session: DBSession,
    idem: IdempotencyKey,
) -> Response:
    """Add a benefit to a plan (validated as in POST /health/plans); a benefit_code the plan
    already has is a 422 naming it."""
    benefit = await plan_service.add_benefit(session, plan_code, body)
    return await idem.respond(session, schemas.Benefit.model_validate(benefit), status_code=201)


@router.patch(
    "/plans/{plan_code}/benefits/{benefit_code}",
    tags=["health"],
    response_model=schemas.Benefit,
    responses={403: _PROBLEM, 404: _PROBLEM, 422: _INVALID},
)
async def update_benefit(
    plan_code: PlanCode,
    benefit_code: BenefitCode,
    body: schemas.BenefitUpdate,
    principal: ConfigWrite,
    session: DBSession,
) -> schemas.Benefit:
    """Change a benefit's fields (not its code); fields left out stay as they are. Claims
    already adjudicated are not changed; the next claim uses the new values.
    `coverage_type: not_covered` deactivates the benefit."""
    benefit = await plan_service.update_benefit(
        session, plan_code, benefit_code, body.model_dump(exclude_unset=True)
    )
    return schemas.Benefit.model_validate(benefit)


@router.delete(
    "/plans/{plan_code}/benefits/{benefit_code}",
    tags=["health"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM},
)
async def delete_benefit(
    plan_code: PlanCode, benefit_code: BenefitCode, principal: ConfigWrite, session: DBSession
) -> Response:
    """Remove a benefit that no claim line or accumulator names; one in use is a 409
    `benefit-in-use` (deactivate it instead)."""
    await plan_service.delete_benefit(session, plan_code, benefit_code)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/plans/{plan_code}/exclusions",
    tags=["health"],
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Exclusion,
    responses={403: _PROBLEM, 404: _PROBLEM, 422: _INVALID},
)
async def add_exclusion(
    plan_code: PlanCode,
    body: schemas.ExclusionCreate,
    principal: ConfigWrite,
    session: DBSession,
    idem: IdempotencyKey,
) -> Response:
    """Add an exclusion to a plan (validated as in POST /health/plans)."""
    exclusion = await plan_service.add_exclusion(session, plan_code, body)
    return await idem.respond(session, schemas.Exclusion.model_validate(exclusion), status_code=201)


@router.patch(
    "/plans/{plan_code}/exclusions/{exclusion_id}",
    tags=["health"],
    response_model=schemas.Exclusion,
    responses={403: _PROBLEM, 404: _PROBLEM, 422: _INVALID},
)
async def update_exclusion(
    plan_code: PlanCode,
    exclusion_id: uuid.UUID,
    body: schemas.ExclusionUpdate,
    principal: ConfigWrite,
    session: DBSession,
) -> schemas.Exclusion:
    """Change an exclusion's fields (its code too: it is named by its id)."""
    exclusion = await plan_service.update_exclusion(
        session, plan_code, exclusion_id, body.model_dump(exclude_unset=True)
    )
    return schemas.Exclusion.model_validate(exclusion)


@router.delete(
    "/plans/{plan_code}/exclusions/{exclusion_id}",
    tags=["health"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses={403: _PROBLEM, 404: _PROBLEM},
)
async def delete_exclusion(
    plan_code: PlanCode, exclusion_id: uuid.UUID, principal: ConfigWrite, session: DBSession
) -> Response:
    """Remove one of the plan's own exclusions."""
    await plan_service.delete_exclusion(session, plan_code, exclusion_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


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
    principal: ProvidersRead, session: ReadSession, page: PageQuery
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


def _columns(obj: Any) -> dict[str, Any]:
    """The mapped column values of an ORM object."""
    return {attr.key: getattr(obj, attr.key) for attr in inspect(obj).mapper.column_attrs}


# --- policies -----------------------------------------------------------------------------


def _policy(view: PolicyView) -> schemas.Policy:
    return schemas.Policy.model_validate({**_columns(view.policy), "plan_code": view.plan_code})


@router.post(
    "/policies",
    tags=["health"],
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Policy,
    responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def create_policy(
    body: schemas.PolicyCreate, principal: PoliciesWrite, session: DBSession, idem: IdempotencyKey
) -> Response:
    """Issue a group or individual policy under an existing plan (by plan_code)."""
    view = await policy_service.create(session, body)
    return await idem.respond(session, _policy(view), status_code=201)


@router.get("/policies", tags=["health"], response_model=Page[schemas.Policy])
async def list_policies(
    principal: PoliciesRead, session: ReadSession, page: PageQuery
) -> Page[schemas.Policy]:
    """List policies by policy_number, one cursor page at a time."""
    items, next_cursor = await paginate(
        session, policy_service.statement(), _POLICIES_BY_NUMBER, page
    )
    codes = await policy_service.plan_codes(session, items)
    return Page[schemas.Policy](
        items=[_policy(PolicyView(p, c)) for p, c in zip(items, codes, strict=True)],
        next_cursor=next_cursor,
    )


@router.get(
    "/policies/{policy_number}",
    tags=["health"],
    response_model=schemas.Policy,
    responses={404: _PROBLEM},
)
async def get_policy(
    policy_number: PolicyNumber, principal: PoliciesRead, session: DBSession
) -> schemas.Policy:
    """One policy with its fund balances."""
    return _policy(await policy_service.get(session, policy_number))


@router.patch(
    "/policies/{policy_number}",
    tags=["health"],
    response_model=schemas.Policy,
    responses={403: _PROBLEM, 404: _PROBLEM, 422: _INVALID},
)
async def update_policy(
    policy_number: PolicyNumber,
    body: schemas.PolicyUpdate,
    principal: PoliciesWrite,
    session: DBSession,
) -> schemas.Policy:
    """Change policy fields; balances move only through fund transactions."""
    view = await policy_service.update(session, policy_number, body.model_dump(exclude_unset=True))
    return _policy(view)


@router.post(
    "/policies/{policy_number}/fund-transactions",
    tags=["health"],
    response_model=schemas.FundTransaction,
    responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def create_fund_transaction(
    policy_number: PolicyNumber,
    body: schemas.FundTransactionCreate,
    principal: BillingWrite,
    session: DBSession,
    idem: IdempotencyKey,
) -> Response:
    """Top up or withdraw from an ASO policy's fund (atomically); a withdrawal that would
    overdraw the fund is a 409 and changes nothing. The movement is kept in the audit trail."""
    movement: FundMovement = await policy_service.move_fund(session, policy_number, body)
    result = schemas.FundTransaction.model_validate(movement)
    return await idem.respond(session, result, status_code=200)


# --- members ------------------------------------------------------------------------------


def _member_detail(view: MemberView) -> schemas.MemberDetail:
    return schemas.MemberDetail(
        **schemas.Member.model_validate(view.member).model_dump(),
        coverages=[
            schemas.Coverage.model_validate(
                {**_columns(c.coverage), "policy_number": c.policy_number, "plan_code": c.plan_code}
            )
            for c in view.coverages
        ],
    )


@router.post(
    "/members",
    tags=["health"],
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.MemberDetail,
    responses={403: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def create_member(
    body: schemas.MemberCreate, principal: MembersWrite, session: DBSession, idem: IdempotencyKey
) -> Response:
    """Enrol a member with their coverages, all or nothing; the NIK is stored encrypted."""
    view = await member_service.create(session, body)
    return await idem.respond(session, _member_detail(view), status_code=201)


@router.get("/members", tags=["health"], response_model=Page[schemas.Member])
async def list_members(
    principal: MembersRead,
    session: ReadSession,
    page: PageQuery,
    active: Annotated[
        bool | None,
        Query(
            description="true: only members member.active_members_view lists (active, with an"
            " active coverage holding today's date in Jakarta); false: only the others"
        ),
    ] = None,
) -> Page[schemas.Member]:
    """List members by member_number, one cursor page at a time (without coverages)."""
    items, next_cursor = await paginate(
        session, member_service.statement(active), _MEMBERS_BY_NUMBER, page
    )
    return Page[schemas.Member](
        items=[schemas.Member.model_validate(m) for m in items], next_cursor=next_cursor
    )


@router.get(
    "/members/{member_number}",
    tags=["health"],
    response_model=schemas.MemberDetail,
    responses={404: _PROBLEM},
)
async def get_member(
    member_number: MemberNumber, principal: MembersRead, session: DBSession
) -> schemas.MemberDetail:
    """One member with their coverages; identifiers masked."""
    return _member_detail(await member_service.get(session, member_number))


@router.patch(
    "/members/{member_number}",
    tags=["health"],
    response_model=schemas.MemberDetail,
    responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def update_member(
    member_number: MemberNumber,
    body: schemas.MemberUpdate,
    principal: MembersWrite,
    session: DBSession,
) -> schemas.MemberDetail:
    """Change member fields (a new NIK is encrypted); left-out fields stay."""
    view = await member_service.update(session, member_number, body.model_dump(exclude_unset=True))
    return _member_detail(view)


@router.post(
    "/members/{member_number}/termination",
    tags=["health"],
    response_model=schemas.MemberDetail,
    responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def terminate_member(
    member_number: MemberNumber,
    body: schemas.MemberTermination,
    principal: MembersWrite,
    session: DBSession,
) -> schemas.MemberDetail:
    """Terminate a member: the member and each open coverage end on termination_date."""
    view = await member_service.terminate(session, member_number, body.termination_date)
    return _member_detail(view)


# --- claims -------------------------------------------------------------------------------

ClaimStatus = Literal[
    "submitted",
    "adjudicating",
    "pended",
    "approved",
    "partially_approved",
    "denied",
    "payment_pending",
    "paid",
    "closed",
    "appealed",
    "voided",
    "cancelled",
]
FilterCode = Annotated[str | None, Query(min_length=1, max_length=50)]


def _claim(view: ClaimView) -> schemas.Claim:
    return schemas.Claim.model_validate(
        {
            **_columns(view.claim),
            "member_number": view.member_number,
            "provider_code": view.provider_code,
        }
    )


def _claim_detail(view: ClaimView) -> schemas.ClaimDetail:
    return schemas.ClaimDetail(
        **_claim(view).model_dump(),
        items=[
            schemas.ClaimItem.model_validate(
                {**_columns(item), "trace": item.adjudication_trace or []}
            )
            for item in view.items
        ],
    )


# The claim's own fields, named alike in the request body, the engine's request and the
# answer.
_CLAIM_FIELDS = (
    "member_number",
    "provider_code",
    "claim_type",
    "service_type",
    "service_date",
    "admission_date",
    "discharge_date",
)


def _claim_fields(body: schemas.ClaimCreate) -> dict[str, Any]:
    return {name: getattr(body, name) for name in _CLAIM_FIELDS}


def claim_request(body: schemas.ClaimCreate, created_by: str | None) -> ClaimRequest:
    """The engine's request for a validated body (the API and `polis health adjudicate`)."""
    return ClaimRequest(
        **_claim_fields(body),
        authorization_number=body.authorization_number,
        created_by=created_by,
        lines=[
            ClaimLineRequest(
                benefit_code=item.benefit_code,
                charged_amount=item.charged_amount,
                quantity=item.quantity,
                diagnosis_code=item.diagnosis_code,
                procedure_code=item.procedure_code,
                service_code=item.service_code,
                unit_price=item.unit_price,
            )
            for item in body.items
        ],
    )


@router.post(
    "/claims",
    tags=["health"],
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.ClaimDetail,
    responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def create_claim(
    body: schemas.ClaimCreate, principal: ClaimsWrite, session: DBSession, idem: IdempotencyKey
) -> Response:
    """Submit a claim and adjudicate it synchronously: the claim, its lines with their
    traces, the accumulators and (ASO) the fund move together or not at all."""
    outcome = await submit_claim(session, claim_request(body, str(principal.user_id)))
    return await idem.respond(session, _submitted_detail(body, outcome), status_code=201)


def _submitted_detail(body: schemas.ClaimCreate, outcome: ClaimOutcome) -> schemas.ClaimDetail:
    """The answer to POST /claims from what submit_claim wrote (no read back, decision
    0038): the same fields GET /claims/{id} gives, lines in submitted order. Built with
    `model_construct` (no validation): every value is one submit_claim computed or the
    validated request carried, of the field's type (amounts Decimal, trace amounts their
    decimal strings), and the tests compare this answer with GET's, which validates."""
    totals = outcome.result.totals
    assert outcome.submission_date is not None  # RETURNING submission_date of the claim row
    items = [
        schemas.ClaimItem.model_construct(
            id=item["id"],
            benefit_code=item["benefit_code"],
            service_code=item["service_code"],
            diagnosis_code=item["diagnosis_code"],
            procedure_code=item["procedure_code"],
            quantity=item["quantity"],
            unit_price=item["unit_price"],
            charged_amount=item["charged_amount"],
            approved_amount=item["approved_amount"],
            paid_amount=item["paid_amount"],
            deductible_amount=item["deductible_amount"],
            coinsurance_amount=item["coinsurance_amount"],
            copay_amount=item["copay_amount"],
            status=item["status"],
            denial_reason=item["denial_reason"],
            trace=[
                schemas.TraceStep.model_construct(**step) for step in item["adjudication_trace"]
            ],
        )
        for item in outcome.items
    ]
    return schemas.ClaimDetail.model_construct(
        id=outcome.claim_id,
        claim_number=outcome.claim_number,
        **_claim_fields(body),
        status=outcome.status,
        total_charged_amount=totals.charged,
        total_approved_amount=totals.approved,
        total_paid_amount=totals.paid,
        member_responsibility=totals.member_responsibility,
        submission_date=outcome.submission_date,
        items=items,
    )


@router.get("/claims", tags=["health"], response_model=Page[schemas.ClaimListItem])
async def list_claims(
    principal: ClaimsRead,
    session: ReadSession,
    page: PageQuery,
    status: ClaimStatus | None = None,
    member_number: FilterCode = None,
    provider_code: FilterCode = None,
    service_date_from: date | None = None,
    service_date_to: date | None = None,
) -> Page[schemas.ClaimListItem]:
    """List claims, newest submission first, one cursor page at a time (without lines),
    read from claims.claim_summary_view: each with its member's and provider's names."""
    where = ClaimFilter(
        status=status,
        member_number=member_number,
        provider_code=provider_code,
        service_date_from=service_date_from,
        service_date_to=service_date_to,
    )
    items, next_cursor = await paginate(
        session, claim_service.statement(where), _CLAIMS_NEWEST_FIRST, page
    )
    return Page[schemas.ClaimListItem](
        items=[schemas.ClaimListItem.model_validate(dict(row._mapping)) for row in items],
        next_cursor=next_cursor,
    )


@router.get(
    "/claims/{claim_id}",
    tags=["health"],
    response_model=schemas.ClaimDetail,
    responses={404: _PROBLEM},
)
async def get_claim(
    claim_id: uuid.UUID, principal: ClaimsRead, session: DBSession
) -> schemas.ClaimDetail:
    """One claim with its lines, each with its adjudication trace."""
    return _claim_detail(await claim_service.get(session, claim_id))


# --- the other health routers, each in its own module -------------------------------------

from polis.health import (  # noqa: E402  (after this module's own routes, on purpose)
    authorization_endpoints,
    balances_endpoints,
    document_endpoints,
    eob_endpoints,
    lifecycle_endpoints,
    payment_endpoints,
)

for _module in (
    balances_endpoints,
    authorization_endpoints,
    lifecycle_endpoints,
    document_endpoints,
    eob_endpoints,
    payment_endpoints,
):
    router.include_router(_module.router)
