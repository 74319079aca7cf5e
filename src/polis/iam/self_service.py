"""Self-service under row-level security (issue 6 item 6, decision 0064).

A member's or customer's self-service request reads through the request's own database
session after `SET LOCAL ROLE polis_self_service` and `app.current_member_id` /
`app.current_customer_id` set from the login's link (member.member.user_id,
motor.customers.user_id). PostgreSQL's policies (migration 0023) then show that role only the
person's own rows, whatever the route's query says: another person's claim is simply not
there (404). The role has SELECT on what self-service reads and nothing else.

    OwnMember = Annotated[SelfService, own_member("health.claims:read_own")]

    @router.get("/me/health/claims/{claim_id}")
    async def my_claim(claim_id: uuid.UUID, me: OwnMember, session: DBSession) -> ...

The dependency authenticates and checks the permission (`require`), flushes what the ORM
holds (it was written as the application role), enters the mode, and leaves it again (RESET
ROLE, settings emptied) when the route is done, before the request's commit.
"""

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from polis.db.session import DBSession
from polis.health.models import Member
from polis.iam.auth import Principal, require
from polis.iam.models import User
from polis.iam.permissions import Role
from polis.motor.models import Customer
from polis.platform.errors import BusinessRuleError, Conflict, Forbidden, NotFound

ROLE = "polis_self_service"
"""The database role self-service requests run as (created by migration 0023)."""

Kind = Literal["member", "customer"]

_ENTER = text(
    "select set_config('app.current_member_id', :member_id, true),"
    " set_config('app.current_customer_id', :customer_id, true)"
)
_LEAVE = text(
    "select set_config('app.current_member_id', '', true),"
    " set_config('app.current_customer_id', '', true)"
)


class NotLinked(Forbidden):
    """403: the login is not linked to a member or customer record."""

    type_ = "self-service-not-linked"
    title = "Login Not Linked"


@dataclass
class SelfService:
    """The signed-in person of a self-service request: their login and their own record id
    (the one the row-level security policies compare with)."""

    principal: Principal
    kind: Kind
    person_id: uuid.UUID

    @property
    def member_id(self) -> uuid.UUID:
        """The member's id (member routes)."""
        return self.person_id

    @property
    def customer_id(self) -> uuid.UUID:
        """The customer's id (customer routes)."""
        return self.person_id


async def enter(
    session: AsyncSession,
    *,
    member_id: uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
) -> None:
    """Switch the session's transaction to the self-service role for one person. Pending
    ORM changes are flushed first: they belong to the application role."""
    await session.flush()
    await session.execute(text(f"SET LOCAL ROLE {ROLE}"))
    await session.execute(
        _ENTER,
        {
            "member_id": str(member_id) if member_id else "",
            "customer_id": str(customer_id) if customer_id else "",
        },
    )


async def leave(session: AsyncSession) -> None:
    """Back to the application role (the settings emptied)."""
    await session.execute(text("RESET ROLE"))
    await session.execute(_LEAVE)


@asynccontextmanager
async def self_service_mode(
    session: AsyncSession,
    *,
    member_id: uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
) -> AsyncIterator[AsyncSession]:
    """The session in self-service mode for the block. When the transaction failed inside
    (a database error), leaving is skipped: the rollback that follows ends the mode."""
    await enter(session, member_id=member_id, customer_id=customer_id)
    try:
        yield session
    except DBAPIError:
        raise
    except BaseException:
        await leave(session)
        raise
    else:
        await leave(session)


@asynccontextmanager
async def as_application(session: AsyncSession, me: SelfService) -> AsyncIterator[AsyncSession]:
    """Leave the self-service mode for a block and enter it again after: only for work the
    application does on a record RLS has already shown to be the person's own (rendering
    a policy's documents that are due)."""
    await session.flush()
    await leave(session)
    member = me.person_id if me.kind == "member" else None
    customer = me.person_id if me.kind == "customer" else None
    try:
        yield session
        await session.flush()
    except DBAPIError:
        raise  # the transaction failed: its rollback is the only way on
    except BaseException:
        await enter(session, member_id=member, customer_id=customer)
        raise
    else:
        await enter(session, member_id=member, customer_id=customer)


async def linked_person(session: AsyncSession, user: User, kind: Kind) -> uuid.UUID | None:
    """The member or customer id linked to the login, or None."""
    model: Any = Member if kind == "member" else Customer
    stmt = select(model.id).where(model.user_id == user.id)
    if kind == "customer":
        stmt = stmt.where(Customer.deleted_at.is_(None))
    result: uuid.UUID | None = await session.scalar(stmt)
    return result


@asynccontextmanager
async def own_records(
    session: AsyncSession, principal: Principal, kind: Kind
) -> AsyncIterator[SelfService]:
    """The person linked to `principal`'s login, the session in self-service mode for them
    for the block (NotLinked when the login has no such person). The API's dependencies and
    the self-service pages (polis.web.pages.portal) both enter it."""
    person_id = await linked_person(session, principal.user, kind)
    if person_id is None:
        what = "health member" if kind == "member" else "motor customer"
        raise NotLinked(
            f"This login is not linked to a {what}; ask the insurer to link your account."
        )
    me = SelfService(principal=principal, kind=kind, person_id=person_id)
    member = person_id if kind == "member" else None
    customer = person_id if kind == "customer" else None
    async with self_service_mode(session, member_id=member, customer_id=customer):
        yield me


def _own(kind: Kind, permission: str) -> Callable[..., AsyncIterator[SelfService]]:
    authorizer = require(permission)

    async def dependency(
        principal: Annotated[Principal, Depends(authorizer)], session: DBSession
    ) -> AsyncIterator[SelfService]:
        async with own_records(session, principal, kind) as me:
            yield me

    dependency.__name__ = f"own_{kind}_{permission.replace('.', '_').replace(':', '_')}"
    return dependency


def own_member(permission: str) -> Any:
    """`Depends(...)` for a member self-service route needing `permission` (a `:read_own`)."""
    return Depends(_own("member", permission), scope="function")


def own_customer(permission: str) -> Any:
    """`Depends(...)` for a customer self-service route needing `permission`."""
    return Depends(_own("customer", permission), scope="function")


# --- linking a login to its person (POST /iam/users) ---------------------------------------


async def link_login(
    session: AsyncSession,
    user: User,
    *,
    member_number: str | None = None,
    customer_id: uuid.UUID | None = None,
) -> None:
    """Link a new MEMBER login to a health member (by member number) or a CUSTOMER login to
    a motor customer: 422 for the wrong role, 404 for an unknown person, 409 when the person
    already has a login. The update is one statement guarded by `user_id IS NULL`, so two
    concurrent links cannot both win."""
    if member_number is not None and customer_id is not None:
        raise BusinessRuleError(
            "Give member_number or customer_id, not both.", type_="invalid-link"
        )
    if member_number is not None:
        if user.role != Role.MEMBER:
            raise BusinessRuleError(
                "Only a MEMBER login can be linked to a member.", type_="invalid-link"
            )
        found = await session.scalar(select(Member.id).where(Member.member_number == member_number))
        if found is None:
            raise NotFound(f"Member {member_number} does not exist.", type_="member-not-found")
        linked = await session.scalar(
            update(Member)
            .where(Member.member_number == member_number, Member.user_id.is_(None))
            .values(user_id=user.id)
            .returning(Member.id)
        )
        if linked is None:
            raise Conflict(
                f"Member {member_number} already has a login.", type_="person-already-linked"
            )
    elif customer_id is not None:
        if user.role != Role.CUSTOMER:
            raise BusinessRuleError(
                "Only a CUSTOMER login can be linked to a customer.", type_="invalid-link"
            )
        exists = await session.scalar(
            select(Customer.id).where(Customer.id == customer_id, Customer.deleted_at.is_(None))
        )
        if exists is None:
            raise NotFound(f"Customer {customer_id} does not exist.", type_="customer-not-found")
        linked = await session.scalar(
            update(Customer)
            .where(Customer.id == customer_id, Customer.user_id.is_(None))
            .values(user_id=user.id)
            .returning(Customer.id)
        )
        if linked is None:
            raise Conflict(
                f"Customer {customer_id} already has a login.", type_="person-already-linked"
            )
