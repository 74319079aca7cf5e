"""Self-service routes under /me: a member's or customer's own records, read under row-level
security (polis.iam.self_service, decision 0064).

Every route runs its reads through the request's session as `polis_self_service` with the
person's id set, reusing the domains' services and response schemas: the queries are the
staff routes' own, and PostgreSQL's policies narrow them to the person's rows. Another
person's id answers 404, exactly like an id that does not exist.

What a person may cause to be written (a document on their claim, a reimbursement claim of
their own, the first notice of a motor claim on their own policy) is written as the
application (`as_application`), after RLS has shown the member, claim or policy to be theirs
(decision 0068). The Idempotency-Key of a submission is taken before the self-service mode is
entered (the role reads nothing of `iam`) and its answer stored as the application.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal, Self

from fastapi import (
    APIRouter,
    BackgroundTasks,
    File,
    Form,
    Header,
    Path,
    Query,
    Request,
    Response,
    UploadFile,
    status,
)
from pydantic import Field, create_model, model_validator
from sqlalchemy import select

from polis.config import Settings
from polis.db.session import Database, DBSession
from polis.documents.checks import content_disposition
from polis.documents.storage import DocumentStore
from polis.health import document_endpoints as health_documents
from polis.health import document_schemas as health_document_schemas
from polis.health import eob as eob_service
from polis.health import schemas as health_schemas
from polis.health.adjudication import DOCUMENTS_REQUIRED, required_documents, submit_claim
from polis.health.authorizations import today_jakarta
from polis.health.endpoints import (
    _CLAIMS_NEWEST_FIRST,
    _claim_detail,
    _member_detail,
    _submitted_detail,
    claim_request,
)
from polis.health.eob_endpoints import PDF, _wants_pdf
from polis.health.models import Member
from polis.health.service import ClaimFilter, InvalidFields
from polis.health.service import claim as claim_service
from polis.health.service import member as member_service
from polis.iam.self_service import SelfService, as_application, own_customer, own_member
from polis.motor import claim_documents as motor_claim_documents
from polis.motor import claims as motor_claims
from polis.motor import documents as motor_documents
from polis.motor import payments as motor_payments
from polis.motor import policies as motor_policies
from polis.motor import schemas as motor_schemas
from polis.motor.claim_document_schemas import ClaimDocumentOut, DocumentType
from polis.motor.claim_endpoints import claim_out
from polis.motor.claim_schemas import Claim as MotorClaimSchema
from polis.motor.claim_schemas import ClaimCreate as MotorClaimCreate
from polis.motor.customers import customers as customer_service
from polis.motor.document_schemas import PolicyDocumentList
from polis.motor.models import MotorClaim, MotorPayment, MotorPolicy
from polis.motor.payment_schemas import Payment as MotorPaymentSchema
from polis.motor.payment_schemas import PromptPayQR
from polis.motor.policy_endpoints import policy_out, with_payments
from polis.motor.policy_schemas import Policy as MotorPolicySchema
from polis.motor.policy_schemas import PolicyWithPayments
from polis.platform.errors import NotFound
from polis.platform.idempotency import IdempotencyKey
from polis.platform.pagination import Keyset, Page, PageQuery, paginate
from polis.platform.schemas import Problem, RequestSchema, Schema, ValidationProblem

router = APIRouter(prefix="/me", tags=["self-service"])

_PROBLEM: dict[str, Any] = {"model": Problem}
_INVALID: dict[str, Any] = {"model": ValidationProblem}
_REFUSALS: dict[int | str, dict[str, Any]] = {403: _PROBLEM, 404: _PROBLEM}

MemberSelf = Annotated[SelfService, own_member("health.members:read_own")]
MemberClaims = Annotated[SelfService, own_member("health.claims:read_own")]
MemberDocuments = Annotated[SelfService, own_member("documents:read_own")]
MemberUploads = Annotated[SelfService, own_member("documents:write_own")]
MemberSubmissions = Annotated[SelfService, own_member("health.claims:submit_own")]
CustomerSelf = Annotated[SelfService, own_customer("motor.customers:read_own")]
CustomerPolicies = Annotated[SelfService, own_customer("motor.policies:read_own")]
CustomerPayments = Annotated[SelfService, own_customer("motor.payments:read_own")]
CustomerClaims = Annotated[SelfService, own_customer("motor.claims:read_own")]
CustomerDocuments = Annotated[SelfService, own_customer("documents:read_own")]
CustomerUploads = Annotated[SelfService, own_customer("documents:write_own")]
CustomerSubmissions = Annotated[SelfService, own_customer("motor.claims:submit_own")]

PolicyNumber = Annotated[str, Path(min_length=1, max_length=50)]

# What staff see of a motor claim and its customer does not: the fraud score and flags, and
# whether the claim is under investigation.
_STAFF_ONLY = frozenset({"fraud_score", "fraud_flags", "requires_investigation"})
OwnMotorClaim: type[Schema] = create_model(  # type: ignore[call-overload]
    "OwnMotorClaim",
    __base__=Schema,
    __doc__="A motor claim as its customer sees it (no fraud scoring).",
    **{
        name: (field.annotation, field)
        for name, field in MotorClaimSchema.model_fields.items()
        if name not in _STAFF_ONLY
    },
)


class OwnHealthClaimCreate(RequestSchema):
    """A reimbursement claim of your own: the body of POST /health/claims without
    `member_number` (you, from your login), `claim_type` (always reimbursement) and
    `authorization_number` (your guarantee letters are looked up by the service type)."""

    provider_code: health_schemas.Code = Field(examples=["RS-MEDIKA-JKT"])
    service_type: health_schemas.ServiceType
    service_date: date = Field(description="Not after today (Asia/Jakarta)")
    admission_date: date | None = None
    discharge_date: date | None = None
    items: list[health_schemas.ClaimItemCreate] = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _period(self) -> Self:
        if (
            self.admission_date is not None
            and self.discharge_date is not None
            and self.discharge_date < self.admission_date
        ):
            raise ValueError("discharge_date must not be before admission_date")
        return self


class OwnHealthClaim(health_schemas.ClaimDetail):
    """Your submitted claim as adjudicated, and what it waits for."""

    pended_reason: str | None = Field(
        description="Why the claim waits for a person (documents_required, review_amount,"
        " awaiting_funds), else null",
        examples=["documents_required"],
    )
    documents_required: list[str] = Field(
        description="The document types to attach with POST /me/health/claims/{id}/documents"
        " before the claim is looked at (a pended reimbursement claim)",
        examples=[["invoice", "receipt"]],
    )


_PAYMENTS_NEWEST_FIRST = Keyset(
    "me.motor.payments.created_at", MotorPayment.created_at, MotorPayment.id, descending=True
)


# --- health: the member --------------------------------------------------------------------


@router.get(
    "/health/member",
    response_model=health_schemas.MemberDetail,
    responses=_REFUSALS,
)
async def my_membership(me: MemberSelf, session: DBSession) -> health_schemas.MemberDetail:
    """Your membership and coverages (identifiers masked)."""
    number = await session.scalar(select(Member.member_number).where(Member.id == me.member_id))
    return _member_detail(await member_service.get(session, number or ""))


@router.get(
    "/health/claims",
    response_model=Page[health_schemas.ClaimListItem],
    responses={**_REFUSALS, 400: _PROBLEM},
)
async def my_health_claims(
    me: MemberClaims, session: DBSession, page: PageQuery
) -> Page[health_schemas.ClaimListItem]:
    """Your claims, newest submission first (cursor paging)."""
    items, next_cursor = await paginate(
        session, claim_service.statement(ClaimFilter()), _CLAIMS_NEWEST_FIRST, page
    )
    return Page[health_schemas.ClaimListItem](
        items=[health_schemas.ClaimListItem.model_validate(dict(r._mapping)) for r in items],
        next_cursor=next_cursor,
    )


def staff_claim_body(member_number: str, body: OwnHealthClaimCreate) -> health_schemas.ClaimCreate:
    """The body of POST /health/claims for the member's own reimbursement claim."""
    if body.service_date > today_jakarta():
        raise InvalidFields(
            [
                {
                    "field": "body.service_date",
                    "message": "service_date must not be after today (Asia/Jakarta)",
                    "type": "service_date_in_future",
                }
            ]
        )
    return health_schemas.ClaimCreate(
        member_number=member_number, claim_type="reimbursement", **body.model_dump()
    )


async def submit_own_claim(
    session: DBSession, me: SelfService, body: OwnHealthClaimCreate
) -> OwnHealthClaim:
    """Submit and adjudicate the member's own reimbursement claim (the service of POST
    /health/claims). The member number is read under RLS from the login's link; the claim,
    its lines, accumulators and EOB are written as the application. A refusal raises before
    anything is written. The API and the portal both call it."""
    number = await session.scalar(select(Member.member_number).where(Member.id == me.member_id))
    if number is None:  # the link was just removed
        raise NotFound("Your membership was not found.", type_="member-not-found")
    staff_body = staff_claim_body(number, body)
    async with as_application(session, me):
        outcome = await submit_claim(session, claim_request(staff_body, str(me.principal.user_id)))
        missing: list[str] = []
        if outcome.pended_reason == DOCUMENTS_REQUIRED:
            missing = list(await required_documents(session))
    return OwnHealthClaim(
        **_submitted_detail(staff_body, outcome).model_dump(),
        pended_reason=outcome.pended_reason,
        documents_required=missing,
    )


@router.post(
    "/health/claims",
    status_code=status.HTTP_201_CREATED,
    response_model=OwnHealthClaim,
    responses={**_REFUSALS, 409: _PROBLEM, 422: _INVALID},
)
async def submit_my_health_claim(
    body: OwnHealthClaimCreate,
    idem: IdempotencyKey,  # taken before the self-service mode: as the application
    me: MemberSubmissions,
    session: DBSession,
) -> Response:
    """Submit a reimbursement claim for yourself, adjudicated at once by the rules of POST
    /health/claims (amounts, limits, deductible, exclusions). Without the documents the
    insurer requires (HEALTH_REIMBURSEMENT_DOCUMENTS) the claim is `pended`
    (`pended_reason: documents_required`) and moves nothing: attach `documents_required`
    with POST /me/health/claims/{id}/documents. An unknown provider or benefit is a 404, a
    service date outside your cover, in the future or an invalid ICD-10 code a 422; nothing
    is written then. Send an Idempotency-Key: a retry replays the first answer."""
    answer = await submit_own_claim(session, me, body)
    async with as_application(session, me):
        return await idem.respond(session, answer, status_code=201)


@router.get(
    "/health/claims/{claim_id}",
    response_model=health_schemas.ClaimDetail,
    responses=_REFUSALS,
)
async def my_health_claim(
    claim_id: uuid.UUID, me: MemberClaims, session: DBSession
) -> health_schemas.ClaimDetail:
    """One of your claims with its lines and how each was adjudicated."""
    return _claim_detail(await claim_service.get(session, claim_id))


@router.get(
    "/health/claims/{claim_id}/eob",
    response_model=health_document_schemas.Eob,
    responses={
        200: {"description": "The EOB as JSON, or as a PDF", "content": {PDF: {}}},
        **_REFUSALS,
        422: _INVALID,
    },
)
async def my_eob(
    claim_id: uuid.UUID,
    me: MemberClaims,
    session: DBSession,
    format_: Annotated[
        health_document_schemas.EobFormat | None,
        Query(alias="format", description="json (default) or pdf"),
    ] = None,
    lang: Annotated[
        health_document_schemas.EobLanguage,
        Query(description="Indonesian (id, default) or English (en)"),
    ] = "id",
    accept: Annotated[str | None, Header()] = None,
) -> Any:
    """The explanation of benefits of one of your claims; 404 until the claim is decided."""
    record = await eob_service.find_eob(session, claim_id)
    view = await eob_service.eob_view(session, record, lang)
    if not _wants_pdf(format_, accept):
        return view
    return Response(
        content=eob_service.render_pdf(view),
        media_type=PDF,
        headers={
            "Content-Disposition": content_disposition(f"{view.eob_number}-{lang}.pdf"),
            "Cache-Control": "private, no-store",
        },
    )


@router.get(
    "/health/claims/{claim_id}/documents",
    response_model=list[health_document_schemas.ClaimDocument],
    responses=_REFUSALS,
)
async def my_health_claim_documents(
    claim_id: uuid.UUID, me: MemberDocuments, session: DBSession
) -> list[health_document_schemas.ClaimDocument]:
    """The documents of one of your claims, oldest upload first."""
    return await health_documents.list_claim_documents(claim_id, me.principal, session)


@router.post(
    "/health/claims/{claim_id}/documents",
    status_code=status.HTTP_201_CREATED,
    response_model=health_document_schemas.ClaimDocument,
    responses={**_REFUSALS, 422: _INVALID},
)
async def upload_my_health_claim_document(
    claim_id: uuid.UUID,
    request: Request,
    me: MemberUploads,
    session: DBSession,
    document_type: Annotated[
        health_document_schemas.DocumentType, Form(description="The kind of document")
    ],
    file: Annotated[UploadFile, File(description="PDF, JPEG, PNG or TIFF")],
) -> health_document_schemas.ClaimDocument:
    """Attach a file to one of your claims (multipart/form-data: `document_type`, `file`),
    with the checks of POST /health/claims/{id}/documents. Another member's claim is a 404;
    a refused file writes nothing."""
    settings: Settings = request.app.state.settings
    await claim_service.get(session, claim_id)  # under RLS: 404 unless it is yours
    data = await file.read(settings.document_max_bytes + 1)
    async with as_application(session, me):
        row = await health_documents.attach_claim_document(
            session,
            settings,
            claim_id,
            data,
            file_name=file.filename,
            declared_type=file.content_type,
            document_type=document_type,
            user_id=me.principal.user_id,
        )
    return health_documents.document_out(row)


@router.get(
    "/health/claims/{claim_id}/documents/{document_id}",
    response_class=Response,
    responses={
        200: {
            "description": "The file's bytes, with its MIME type and an attachment name",
            "content": {"application/pdf": {}, "image/jpeg": {}, "image/png": {}},
        },
        **_REFUSALS,
    },
)
async def my_health_claim_document(
    claim_id: uuid.UUID,
    document_id: uuid.UUID,
    request: Request,
    me: MemberDocuments,
    session: DBSession,
) -> Response:
    """One document of one of your claims, byte for byte."""
    return await health_documents.download_claim_document(
        claim_id, document_id, request, me.principal, session
    )


# --- motor: the customer -------------------------------------------------------------------


@router.get("/motor/customer", response_model=motor_schemas.Customer, responses=_REFUSALS)
async def my_customer_record(me: CustomerSelf, session: DBSession) -> motor_schemas.Customer:
    """Your customer record (national id masked)."""
    return motor_schemas.Customer.model_validate(
        await customer_service.get(session, me.customer_id)
    )


@router.get(
    "/motor/policies",
    response_model=Page[MotorPolicySchema],
    responses={**_REFUSALS, 400: _PROBLEM},
)
async def my_motor_policies(
    me: CustomerPolicies, session: DBSession, page: PageQuery
) -> Page[MotorPolicySchema]:
    """Your policies, newest first (cursor paging)."""
    items, cursor = await motor_policies.list_policies(session, page)
    return Page[MotorPolicySchema](items=[policy_out(p) for p in items], next_cursor=cursor)


@router.get(
    "/motor/policies/{policy_number}", response_model=PolicyWithPayments, responses=_REFUSALS
)
async def my_motor_policy(
    policy_number: PolicyNumber, me: CustomerPolicies, session: DBSession
) -> PolicyWithPayments:
    """One of your policies with its payments."""
    policy = await motor_policies.get_policy(session, policy_number)
    return with_payments(policy, await motor_payments.policy_payments(session, policy.id))


@router.get(
    "/motor/policies/{policy_number}/documents",
    response_model=PolicyDocumentList,
    responses=_REFUSALS,
)
async def my_motor_policy_documents(
    policy_number: PolicyNumber, me: CustomerDocuments, session: DBSession
) -> PolicyDocumentList:
    """The documents of one of your policies (schedule, certificate, receipts)."""
    await _render_due_documents(session, me, policy_number)
    return await motor_documents.list_documents(session, policy_number)


@router.get(
    "/motor/policies/{policy_number}/documents/{document_id}",
    response_class=Response,
    responses={200: {"content": {PDF: {}}}, **_REFUSALS},
)
async def my_motor_policy_document(
    policy_number: PolicyNumber, document_id: uuid.UUID, me: CustomerDocuments, session: DBSession
) -> Response:
    """One document of one of your policies, byte for byte (application/pdf)."""
    await _render_due_documents(session, me, policy_number)
    row, data = await motor_documents.get_document(session, policy_number, document_id)
    name = row.document_name
    if (row.version_number or 1) > 1:
        name = name.removesuffix(".pdf") + f"-v{row.version_number}.pdf"
    return Response(
        content=data,
        media_type=PDF,
        headers={
            "Content-Disposition": content_disposition(name),
            "Cache-Control": "private, no-store",
        },
    )


async def _render_due_documents(session: DBSession, me: SelfService, policy_number: str) -> None:
    """The policy is looked up under RLS (404 when it is not the customer's); the documents
    due and not rendered yet are rendered as the application (the self-service role writes
    nothing), then the route reads them under RLS again."""
    policy = await motor_policies.get_policy(session, policy_number)
    async with as_application(session, me):
        await motor_documents.ensure_documents(session, policy)


@router.get(
    "/motor/payments",
    response_model=Page[MotorPaymentSchema],
    responses={**_REFUSALS, 400: _PROBLEM},
)
async def my_motor_payments(
    me: CustomerPayments, session: DBSession, page: PageQuery
) -> Page[MotorPaymentSchema]:
    """Your payments (premiums and instalments, refunds, claim settlements), newest first."""
    stmt: Any = select(MotorPayment, MotorPolicy.policy_number).outerjoin(
        MotorPolicy, MotorPolicy.id == MotorPayment.policy_id
    )
    items, cursor = await paginate(session, stmt, _PAYMENTS_NEWEST_FIRST, page)
    return Page[MotorPaymentSchema](
        items=[motor_payments.payment_out(r[0], r[1]) for r in items], next_cursor=cursor
    )


@router.get(
    "/motor/claims",
    response_model=Page[OwnMotorClaim],
    responses={**_REFUSALS, 400: _PROBLEM},
)
async def my_motor_claims(me: CustomerClaims, session: DBSession, page: PageQuery) -> Any:
    """Your claims, most recently reported first (cursor paging)."""
    items, cursor = await motor_claims.list_claims(session, motor_claims.ClaimFilter(), page)
    return {"items": [_own_claim(c, p) for c, p in items], "next_cursor": cursor}


@router.get("/motor/claims/{claim_id}", response_model=OwnMotorClaim, responses=_REFUSALS)
async def my_motor_claim(claim_id: uuid.UUID, me: CustomerClaims, session: DBSession) -> Any:
    """One of your claims."""
    claim, policy = await motor_claims.claim_with_policy(session, claim_id)
    return _own_claim(claim, policy)


def _own_claim(claim: Any, policy: Any) -> dict[str, Any]:
    return claim_out(claim, policy).model_dump(exclude=set(_STAFF_ONLY))


async def own_policy(
    session: DBSession, *, policy_id: uuid.UUID | None = None, policy_number: str | None = None
) -> MotorPolicy:
    """The customer's live policy by id or number, read under RLS: NotFound (404) when it is
    not theirs or does not exist."""
    stmt = select(MotorPolicy).where(MotorPolicy.deleted_at.is_(None))
    if policy_id is not None:
        stmt = stmt.where(MotorPolicy.id == policy_id)
    else:
        stmt = stmt.where(MotorPolicy.policy_number == (policy_number or ""))
    policy = (await session.execute(stmt)).scalar_one_or_none()
    if policy is None:
        raise NotFound(f"Policy {policy_id or policy_number} does not exist.")
    return policy


async def report_own_claim(
    session: DBSession, me: SelfService, body: MotorClaimCreate
) -> tuple[MotorClaim, MotorPolicy]:
    """First notice of loss on the customer's own policy (the service of POST /motor/claims):
    the policy is looked up under RLS (404 unless it is theirs), then the claim is checked,
    written and fraud-scored as the application, against that very policy. The API and the
    portal both call it."""
    policy = await own_policy(session, policy_id=body.policy_id, policy_number=body.policy_number)
    named = body.model_copy(update={"policy_id": policy.id, "policy_number": None})
    async with as_application(session, me):
        return await motor_claims.report_claim(session, named, user_id=me.principal.user_id)


@router.post(
    "/motor/claims",
    status_code=status.HTTP_201_CREATED,
    response_model=OwnMotorClaim,
    responses={**_REFUSALS, 409: _PROBLEM, 422: _INVALID},
)
async def report_my_motor_claim(
    body: MotorClaimCreate,
    idem: IdempotencyKey,  # taken before the self-service mode: as the application
    me: CustomerSubmissions,
    session: DBSession,
) -> Response:
    """Notify a claim (first notice of loss) on one of your policies, with the body and the
    checks of POST /motor/claims: the policy ACTIVE (else 409 `policy-not-active`), its
    period holding the incident's Bangkok date, its type covering what is claimed, the
    amount within MAX_CLAIM_AMOUNT. Another customer's policy is a 404; a refusal writes
    nothing. The answer is the claim as GET /me/motor/claims/{id} shows it (no fraud
    scoring); send photos with POST /me/motor/claims/{id}/documents. Send an
    Idempotency-Key: a retry replays the first answer."""
    claim, policy = await report_own_claim(session, me, body)
    answer = OwnMotorClaim.model_validate(_own_claim(claim, policy))
    async with as_application(session, me):
        return await idem.respond(session, answer, status_code=201)


async def _own_premium(session: DBSession, payment_id: uuid.UUID) -> MotorPayment:
    payment, number = await motor_payments.get_payment(session, payment_id)  # under RLS
    if number is None:
        raise motor_payments.PaymentConflict(f"Payment {payment_id} is not a premium payment.")
    return payment


@router.get(
    "/motor/payments/{payment_id}/promptpay",
    response_model=PromptPayQR,
    responses={200: {"content": {"image/png": {}}}, **_REFUSALS, 409: _PROBLEM},
)
async def my_promptpay(
    payment_id: uuid.UUID,
    me: CustomerPayments,
    session: DBSession,
    format: Literal["json", "png"] = "json",
) -> Any:
    """The PromptPay QR of one of your premiums due, to pay it from any Thai banking app:
    {payload, amount, reference}, or the image with `?format=png`. 409 when it is not due."""
    await _own_premium(session, payment_id)
    # The biller id is configuration the self-service role does not read.
    async with as_application(session, me):
        qr = await motor_payments.promptpay_qr(session, payment_id)
    if format == "png":
        return Response(motor_payments.qr_png(qr), media_type="image/png")
    return qr


@router.post(
    "/motor/claims/{claim_id}/documents",
    status_code=status.HTTP_201_CREATED,
    response_model=ClaimDocumentOut,
    responses={**_REFUSALS, 409: _PROBLEM, 422: _INVALID},
)
async def upload_my_motor_claim_document(
    claim_id: uuid.UUID,
    request: Request,
    background: BackgroundTasks,
    me: CustomerUploads,
    session: DBSession,
    file: Annotated[UploadFile, File(description="The file (PDF, JPEG, PNG, TIFF; videos)")],
    document_type: Annotated[DocumentType, Form(description="The kind of document")],
    description: Annotated[str | None, Form(max_length=2000)] = None,
) -> ClaimDocumentOut:
    """Send a photo or document for one of your claims (multipart/form-data), with the checks
    of POST /motor/claims/{id}/documents; its text is read afterwards. Another customer's
    claim is a 404, a CLOSED claim a 409."""
    settings: Settings = request.app.state.settings
    claim, _policy = await motor_claims.claim_with_policy(session, claim_id)  # under RLS
    store = DocumentStore.from_settings(settings)
    async with as_application(session, me):
        limit = await motor_claim_documents.max_bytes_for(session, settings, document_type)
        data = await file.read(limit + 1)
        row = await motor_claim_documents.upload(
            session,
            store,
            claim.id,
            data,
            file_name=file.filename,
            declared_type=file.content_type,
            max_bytes=limit,
            document_type=document_type,
            document_category=None,
            description=description,
            is_sensitive=None,
            is_required=False,
            user_id=me.principal.user_id,
        )
    database: Database = request.app.state.db
    background.add_task(motor_claim_documents.ocr_after_upload, database, store, row.id)
    return motor_claim_documents.document_out(row, sensitive_allowed=True)
