"""Motor customer use cases: register, read, change (optimistic lock on `version`), soft
delete, and consent decisions (motor.consent_records) with the summary flags that follow them.

The national id is sealed with the process keyring (masked value, AES-GCM ciphertext, blind
index, key id: decision 0032) exactly as polis.health.service.MemberService stores the NIK;
it is looked up only through the blind index. Services flush, never commit: the request owns
the transaction, so a refused request leaves nothing written. Decision 0035.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from polis.motor import customer_rules as rules
from polis.motor import schemas
from polis.motor.models import ConsentRecord, Customer, CustomerVehicle, MotorPolicy
from polis.platform.crypto import get_keyring
from polis.platform.errors import (
    UNIQUE_VIOLATION,
    BusinessRuleError,
    Conflict,
    NotFound,
    pg_error,
)
from polis.reference.models import Amphoe, Province, Tambon
from polis.reference.service import read_csv

# Policies in these states keep their customer and vehicle from being deleted.
LIVE_POLICY_STATUSES = ("ACTIVE", "SUSPENDED")


class InvalidFields(BusinessRuleError):
    """Input that is well formed but names what does not exist (an unknown province, a
    tambon outside its amphoe): a 422 listing each field like a validation error."""

    type_ = "validation-error"
    title = "Invalid Request"

    def __init__(self, errors: list[dict[str, str]]) -> None:
        noun = "field is" if len(errors) == 1 else "fields are"
        super().__init__(f"{len(errors)} {noun} invalid.", extra={"errors": errors})


def field_error(field: str, message: str, type_: str) -> dict[str, str]:
    """One entry of a problem's `errors` list."""
    return {"field": field, "message": message, "type": type_}


class StaleVersion(Conflict):
    """If-Match names a version that is no longer current: nothing was changed."""

    type_ = "stale-version"
    title = "Stale Version"


# --- geography -----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _other_postal_codes() -> dict[str, frozenset[str]]:
    """Tambon code -> postal codes beside ref.tambons.postal_code (160 tambons span several
    postal zones; the shipped CSV keeps the others: decision 0020)."""
    out: dict[str, frozenset[str]] = {}
    for row in read_csv("tambons.csv"):
        extra = row.get("other_postal_codes") or ""
        codes = frozenset(c.strip() for c in extra.replace(";", " ").replace(",", " ").split())
        if codes:
            out[row["tambon_code"]] = codes
    return out


def _match(rows: Sequence[Any], value: str, digits: int) -> Any | None:
    """The row whose code, Thai or English name matches `value` (see rules.geo_key)."""
    code = rules.geo_code(value, digits)
    key = rules.geo_key(value)
    for row in rows:
        code_attr = {2: "province_code", 4: "amphoe_code", 6: "tambon_code"}[digits]
        if code is not None and getattr(row, code_attr) == code:
            return row
        if code is None and key in (rules.geo_key(row.name_th), rules.geo_key(row.name_en)):
            return row
    return None


async def find_province(session: AsyncSession, value: str) -> Province | None:
    """The active province named by its code, Thai or English name; None when unknown."""
    rows = (await session.scalars(select(Province).where(Province.is_active.is_not(False)))).all()
    value = rules.PROVINCE_ALIASES.get(rules.geo_key(value), value)
    found: Province | None = _match(rows, value, 2)
    return found


async def resolve_province(session: AsyncSession, value: str, field: str) -> Province:
    """The province, or InvalidFields naming `field`."""
    province = await find_province(session, value)
    if province is None:
        raise InvalidFields([field_error(field, "Unknown province", "unknown_province")])
    return province


async def resolve_address(
    session: AsyncSession, address: schemas.AddressIn, where: str = "body.address"
) -> dict[str, Any]:
    """The stored form of an address after checking it against ref geography: the tambon
    must lie in the amphoe, the amphoe in the province, the postal code be the tambon's.
    InvalidFields names the first wrong part (a later part cannot be judged without it)."""
    province = await find_province(session, address.province)
    if province is None:
        raise InvalidFields(
            [field_error(f"{where}.province", "Unknown province", "unknown_province")]
        )
    amphoes = (
        await session.scalars(
            select(Amphoe).where(Amphoe.province_id == province.id, Amphoe.is_active.is_not(False))
        )
    ).all()
    amphoe: Amphoe | None = _match(amphoes, address.amphoe, 4)
    if amphoe is None:
        raise InvalidFields(
            [
                field_error(
                    f"{where}.amphoe",
                    f"No amphoe of that name or code in province {province.name_en}",
                    "amphoe_not_in_province",
                )
            ]
        )
    tambons = (
        await session.scalars(
            select(Tambon).where(Tambon.amphoe_id == amphoe.id, Tambon.is_active.is_not(False))
        )
    ).all()
    tambon: Tambon | None = _match(tambons, address.tambon, 6)
    if tambon is None:
        raise InvalidFields(
            [
                field_error(
                    f"{where}.tambon",
                    f"No tambon of that name or code in amphoe {amphoe.name_en}",
                    "tambon_not_in_amphoe",
                )
            ]
        )
    allowed = {tambon.postal_code} | _other_postal_codes().get(tambon.tambon_code, frozenset())
    if address.postal_code not in allowed:
        raise InvalidFields(
            [
                field_error(
                    f"{where}.postal_code",
                    f"Postal code is not that of tambon {tambon.name_en}"
                    f" (expected {', '.join(sorted(c for c in allowed if c))})",
                    "postal_code_mismatch",
                )
            ]
        )
    parts = address.model_dump(
        include={"house_no", "moo", "village", "building", "soi", "road"}, exclude_none=True
    )
    return {
        **parts,
        "tambon": tambon.name_th,
        "tambon_en": tambon.name_en,
        "tambon_code": tambon.tambon_code,
        "amphoe": amphoe.name_th,
        "amphoe_en": amphoe.name_en,
        "amphoe_code": amphoe.amphoe_code,
        "province": province.name_th,
        "province_en": province.name_en,
        "province_code": province.province_code,
        "postal_code": address.postal_code,
    }


# --- customers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerFilter:
    """Filters of the customer list (None: not filtered)."""

    email: str | None = None
    phone_number: str | None = None
    national_id: str | None = None  # normalised 13 digits; matched through the blind index
    kyc_status: str | None = None
    account_status: str | None = None


def _email_taken() -> Conflict:
    return Conflict(
        "A customer with this email already exists.",
        type_="email-exists",
        extra={"errors": [field_error("body.email", "Email already registered", "duplicate")]},
    )


def _national_id_taken() -> Conflict:
    return Conflict(
        "An active customer with this national_id already exists.",
        type_="national-id-exists",
        extra={
            "errors": [
                field_error("body.national_id", "National id already registered", "duplicate")
            ]
        },
    )


async def _flush(session: AsyncSession) -> None:
    """Flush; a concurrent duplicate (unique violation) becomes the same 409 as our check."""
    try:
        await session.flush()
    except IntegrityError as exc:
        sqlstate, constraint, _ = pg_error(exc)
        if sqlstate == UNIQUE_VIOLATION and constraint == "customers_email_key":
            raise _email_taken() from None
        if sqlstate == UNIQUE_VIOLATION and constraint == "idx_customers_national_id_hash":
            raise _national_id_taken() from None
        raise


class CustomerService:
    """Customers, their sealed national id, their consents."""

    def statement(self, where: CustomerFilter) -> Select[Any]:
        """select(Customer) of the live (not deleted) customers matching the filter."""
        stmt = select(Customer).where(Customer.deleted_at.is_(None))
        if where.email is not None:
            stmt = stmt.where(Customer.email == where.email)
        if where.phone_number is not None:
            stmt = stmt.where(Customer.phone_number == where.phone_number)
        if where.national_id is not None:
            digest = get_keyring().blind_index(where.national_id)
            stmt = stmt.where(Customer.national_id_hash == digest)
        if where.kyc_status is not None:
            stmt = stmt.where(Customer.kyc_status == where.kyc_status)
        if where.account_status is not None:
            stmt = stmt.where(Customer.account_status == where.account_status)
        return stmt

    async def get(
        self, session: AsyncSession, customer_id: uuid.UUID, *, lock: bool = False
    ) -> Customer:
        """A live customer; NotFound when there is none or it was deleted. `lock` takes the
        row lock an update needs (so a concurrent change waits, then sees the new version)."""
        stmt = (
            select(Customer)
            .where(Customer.id == customer_id, Customer.deleted_at.is_(None))
            .execution_options(populate_existing=True)
        )
        if lock:
            stmt = stmt.with_for_update()
        customer = (await session.execute(stmt)).scalar_one_or_none()
        if customer is None:
            raise NotFound(f"Customer {customer_id} does not exist.", type_="customer-not-found")
        return customer

    async def _reload(self, session: AsyncSession, customer: Customer) -> Customer:
        await session.refresh(customer)
        return customer

    def _seal_national_id(self, customer: Customer, value: str | None) -> None:
        """Masked value, ciphertext, blind index and key id (or all four cleared)."""
        if value is None:
            customer.national_id = None
            customer.national_id_encrypted = None
            customer.national_id_hash = None
            customer.encryption_key_id = None
            return
        sealed = get_keyring().seal(value)
        customer.national_id = sealed.masked
        customer.national_id_encrypted = sealed.ciphertext
        customer.national_id_hash = sealed.blind_index
        customer.encryption_key_id = sealed.key_id

    async def _check_email_free(
        self, session: AsyncSession, email: str, customer_id: uuid.UUID | None = None
    ) -> None:
        # The seed's UNIQUE on email covers deleted customers too: their email stays taken
        # until motor.anonymize_customer_data rewrites it (decision 0035).
        stmt = select(Customer.id).where(Customer.email == email)
        if customer_id is not None:
            stmt = stmt.where(Customer.id != customer_id)
        if await session.scalar(stmt) is not None:
            raise _email_taken()

    async def _check_national_id_free(
        self, session: AsyncSession, national_id: str, customer_id: uuid.UUID | None = None
    ) -> None:
        stmt = select(Customer.id).where(
            Customer.national_id_hash == get_keyring().blind_index(national_id),
            Customer.deleted_at.is_(None),
        )
        if customer_id is not None:
            stmt = stmt.where(Customer.id != customer_id)
        if await session.scalar(stmt) is not None:
            raise _national_id_taken()

    async def create(
        self, session: AsyncSession, body: schemas.CustomerCreate, actor: uuid.UUID
    ) -> Customer:
        """Register a customer; 409 for a taken email or an active customer's national id.
        Consent flags given are recorded as consent decisions through body.consent_channel."""
        await self._check_email_free(session, body.email)
        if body.national_id is not None:
            await self._check_national_id_free(session, body.national_id)
        address = await resolve_address(session, body.address) if body.address else None
        flags = {
            flag: getattr(body, flag)
            for flag in rules.FLAG_CONSENTS
            if getattr(body, flag) is not None
        }
        customer = Customer(
            id=uuid.uuid4(),
            **body.model_dump(
                exclude={
                    "national_id",
                    "address",
                    "consent_channel",
                    *rules.FLAG_CONSENTS,
                }
            ),
            **flags,
            address=address,
            account_status="ACTIVE",
            version=0,
            created_by=actor,
            updated_by=actor,
        )
        self._seal_national_id(customer, body.national_id)
        session.add(customer)
        await _flush(session)
        for flag, granted in flags.items():
            session.add(
                _consent_row(
                    customer.id,
                    rules.FLAG_CONSENTS[flag],
                    granted,
                    body.consent_channel,
                    actor,
                )
            )
        await session.flush()
        return await self._reload(session, customer)

    async def update(
        self,
        session: AsyncSession,
        customer_id: uuid.UUID,
        changes: dict[str, Any],
        expected_version: int,
        actor: uuid.UUID,
    ) -> Customer:
        """Apply `changes` when the stored version is `expected_version` (else StaleVersion,
        nothing written); the version goes up by one. A new national id is sealed again and
        sends a VERIFIED KYC back to PENDING unless the same request sets kyc_status."""
        customer = await self.get(session, customer_id, lock=True)
        current = customer.version or 0
        if current != expected_version:
            raise StaleVersion(
                f"Customer {customer_id} is at version {current}, not {expected_version};"
                " read it again and retry.",
                extra={"current_version": current},
            )
        if "email" in changes and changes["email"] != customer.email:
            await self._check_email_free(session, changes["email"], customer.id)
        if "kyc_status" in changes:
            target = changes["kyc_status"]
            if not rules.kyc_transition_allowed(customer.kyc_status or "PENDING", target):
                raise Conflict(
                    f"KYC status cannot move from {customer.kyc_status} to {target}.",
                    type_="kyc-transition-refused",
                    extra={
                        "allowed": sorted(rules.KYC_TRANSITIONS.get(customer.kyc_status or "", ()))
                    },
                )
        if "national_id" in changes:
            new_id = changes.pop("national_id")
            ring = get_keyring()
            unchanged = (
                new_id is not None and customer.national_id_hash == ring.blind_index(new_id)
            ) or (new_id is None and customer.national_id_hash is None)
            if not unchanged:
                if new_id is not None:
                    await self._check_national_id_free(session, new_id, customer.id)
                self._seal_national_id(customer, new_id)
                if customer.kyc_status == "VERIFIED" and "kyc_status" not in changes:
                    customer.kyc_status = "PENDING"
        if "address" in changes:
            body = changes.pop("address")
            customer.address = (
                await resolve_address(session, schemas.AddressIn.model_validate(body))
                if body is not None
                else None
            )
        for name, value in changes.items():
            setattr(customer, name, value)
        customer.version = current + 1
        customer.updated_by = actor
        await _flush(session)
        return await self._reload(session, customer)

    async def delete(
        self,
        session: AsyncSession,
        customer_id: uuid.UUID,
        expected_version: int | None,
        actor: uuid.UUID,
    ) -> None:
        """Soft delete: deleted_at/by set, account CLOSED, version up, the customer's vehicles
        soft-deleted with it. Refused (409) while a policy of theirs is ACTIVE or SUSPENDED."""
        customer = await self.get(session, customer_id, lock=True)
        current = customer.version or 0
        if expected_version is not None and current != expected_version:
            raise StaleVersion(
                f"Customer {customer_id} is at version {current}, not {expected_version}.",
                extra={"current_version": current},
            )
        live = await session.scalar(
            select(func.count())
            .select_from(MotorPolicy)
            .where(
                MotorPolicy.customer_id == customer.id,
                MotorPolicy.status.in_(LIVE_POLICY_STATUSES),
                MotorPolicy.deleted_at.is_(None),
            )
        )
        if live:
            raise Conflict(
                f"Customer {customer_id} has {live} active or suspended policies;"
                " cancel them first.",
                type_="customer-has-policies",
            )
        customer.deleted_at = datetime.now(UTC)
        customer.deleted_by = actor
        customer.account_status = "CLOSED"
        customer.version = current + 1
        customer.updated_by = actor
        await session.execute(
            update(CustomerVehicle)
            .where(CustomerVehicle.customer_id == customer.id, CustomerVehicle.deleted_at.is_(None))
            .values(deleted_at=func.now(), deleted_by=actor, is_active=False, updated_by=actor)
            .execution_options(synchronize_session=False)
        )
        await session.flush()

    # --- consents ------------------------------------------------------------------------

    def consents_statement(
        self, customer_id: uuid.UUID, consent_type: str | None = None
    ) -> Select[Any]:
        """select(ConsentRecord) of one customer (to be paged newest first)."""
        stmt = select(ConsentRecord).where(ConsentRecord.customer_id == customer_id)
        if consent_type is not None:
            stmt = stmt.where(ConsentRecord.consent_type == consent_type)
        return stmt

    async def record_consent(
        self,
        session: AsyncSession,
        customer_id: uuid.UUID,
        body: schemas.ConsentCreate,
        actor: uuid.UUID,
        *,
        ip_address: str | None = None,
        user_agent: str | None = None,
    ) -> tuple[ConsentRecord, bool]:
        """Record a decision: (record, created). A grant inserts a row. A refusal closes the
        open grants of that type (withdrawn_at, withdrawal_channel: the withdrawal) and
        returns the latest of them; with no open grant it inserts a refusal row. The summary
        flag of MARKETING, SMS and EMAIL follows, and the customer's version goes up when
        the flag changes."""
        customer = await self.get(session, customer_id, lock=True)
        record: ConsentRecord | None = None
        created = True
        if not body.granted:
            withdrawn = (
                await session.scalars(
                    update(ConsentRecord)
                    .where(
                        ConsentRecord.customer_id == customer.id,
                        ConsentRecord.consent_type == body.consent_type,
                        ConsentRecord.granted.is_(True),
                        ConsentRecord.withdrawn_at.is_(None),
                    )
                    .values(
                        withdrawn_at=func.clock_timestamp(),
                        withdrawal_channel=body.channel,
                        updated_by=actor,
                    )
                    .returning(ConsentRecord.id)
                    .execution_options(synchronize_session=False)
                )
            ).all()
            if withdrawn:
                record = await session.scalar(
                    select(ConsentRecord)
                    .where(ConsentRecord.id.in_(withdrawn))
                    .order_by(ConsentRecord.granted_at.desc(), ConsentRecord.id.desc())
                    .limit(1)
                    .execution_options(populate_existing=True)
                )
                created = False
        if record is None:
            record = _consent_row(
                customer.id,
                body.consent_type,
                body.granted,
                body.channel,
                actor,
                purpose=body.purpose,
                text_version=body.consent_text_version,
                evidence=body.evidence,
                ip_address=ip_address,
                user_agent=user_agent,
            )
            session.add(record)
            await session.flush()
            await session.refresh(record)
        flag = rules.CONSENT_FLAGS.get(body.consent_type)
        if flag is not None and getattr(customer, flag) != body.granted:
            setattr(customer, flag, body.granted)
            customer.version = (customer.version or 0) + 1
            customer.updated_by = actor
            await session.flush()
        return record, created


def _consent_row(
    customer_id: uuid.UUID,
    consent_type: str,
    granted: bool,
    channel: str,
    actor: uuid.UUID,
    *,
    purpose: str | None = None,
    text_version: str | None = None,
    evidence: dict[str, Any] | None = None,
    ip_address: str | None = None,
    user_agent: str | None = None,
) -> ConsentRecord:
    # clock_timestamp(), not now(): two decisions in one transaction keep their order.
    return ConsentRecord(
        id=uuid.uuid4(),
        customer_id=customer_id,
        consent_type=consent_type,
        purpose=purpose or rules.CONSENT_PURPOSES[consent_type],
        granted=granted,
        channel=channel,
        consent_text_version=text_version or rules.CONSENT_TEXT_VERSION,
        granted_at=func.clock_timestamp(),
        ip_address=ip_address,
        user_agent=user_agent,
        evidence=evidence,
        recorded_by=actor,
        created_by=actor,
        updated_by=actor,
    )


customers = CustomerService()
