"""Roles and permissions: the one table, in code, of what each role may do (decision 0044).

A permission is `<area>.<resource>:<action>`. `:read` and `:write` on a resource are the
staff permissions over every record; `:read_own` / `:submit_own` are self-service
permissions, which endpoints scope to the caller's own member or customer records (and
PostgreSQL row-level security enforces the same). Routes declare what they need with
`polis.iam.auth.require("...")`; a permission that is not listed here is a programming error.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """iam.users.role: seed 001's roles plus the health and audit roles of DESIGN.md."""

    CUSTOMER = "CUSTOMER"
    AGENT = "AGENT"
    ADJUSTER = "ADJUSTER"
    SURVEYOR = "SURVEYOR"
    UNDERWRITER = "UNDERWRITER"
    ADMIN = "ADMIN"
    SUPER_ADMIN = "SUPER_ADMIN"
    MEMBER = "MEMBER"
    PROVIDER = "PROVIDER"
    CLAIMS_PROCESSOR = "CLAIMS_PROCESSOR"
    MEDICAL_REVIEWER = "MEDICAL_REVIEWER"
    FINANCE = "FINANCE"
    AUDITOR = "AUDITOR"


PERMISSIONS: dict[str, str] = {
    # Platform
    "iam.users:read": "List and read user accounts",
    "iam.users:write": "Create, change, lock and unlock user accounts",
    "iam.sessions:read": "See other users' sessions",
    "iam.sessions:revoke": "End other users' sessions",
    "audit:read": "Read the audit trail",
    "audit:export": "Export the audit trail",
    "pdpa:export": "Export a data subject's personal data (PDPA access request)",
    "pdpa:anonymize": "Anonymise a data subject (PDPA erasure)",
    "reference:read": "Read reference data (geography, ICD-10, configuration)",
    "reference:write": "Change reference data and system configuration",
    "documents:read": "Read any stored document",
    "documents:write": "Upload and replace documents",
    "documents:read_own": "Read one's own documents",
    "documents:write_own": "Upload one's own documents",
    "ops:read": "See health, metrics, jobs and backups",
    "ops:write": "Run maintenance, backups and restores; manage partitions and jobs",
    "reports:read": "Run operational and financial reports",
    # Health (seed 000)
    "health.members:read": "Read members and dependants",
    "health.members:write": "Enrol, change and terminate members",
    "health.members:read_own": "Read one's own membership and dependants",
    "health.providers:read": "Read providers and their contracts",
    "health.providers:write": "Register providers, change contracts",
    "health.plans:read": "Read plans, benefits and exclusions",
    "health.policies:read": "Read group policies",
    "health.policies:write": "Issue and change group policies",
    "health.config:write": "Change plans, benefits, exclusions and adjudication settings",
    "health.preauth:read": "Read pre-authorisations",
    "health.preauth:submit": "Submit pre-authorisations (provider)",
    "health.preauth:decide": "Approve or deny pre-authorisations",
    "health.claims:read": "Read claims and their adjudication",
    "health.claims:read_own": "Read one's own claims and EOBs",
    "health.claims:submit": "Submit cashless claims (provider)",
    "health.claims:submit_own": "Submit one's own reimbursement claims",
    "health.claims:write": "Register and correct claims",
    "health.claims:decide": "Adjudicate: approve, pend or deny claim lines",
    "health.claims:review": "Medical review of claims and pre-authorisations",
    "health.claims:pay": "Release payment of approved claims",
    "health.accumulators:read": "Read benefit accumulators",
    "health.billing:read": "Read premiums, invoices and ASO funds",
    "health.billing:write": "Record premiums, fund top-ups and payments",
    # Motor (seed 001)
    "motor.customers:read": "Read customers",
    "motor.customers:write": "Register and change customers",
    "motor.customers:read_own": "Read one's own customer record",
    "motor.vehicles:read": "Read vehicles",
    "motor.vehicles:write": "Register and change vehicles, run DLT checks",
    "motor.quotes:write": "Rate and quote policies",
    "motor.policies:read": "Read policies",
    "motor.policies:read_own": "Read one's own policies",
    "motor.policies:write": "Issue, endorse and renew policies",
    "motor.policies:cancel": "Cancel policies",
    "motor.underwriting:decide": "Accept, load or decline risks",
    "motor.config:write": "Change tariffs, rate tables and coverage definitions",
    "motor.claims:read": "Read claims",
    "motor.claims:read_own": "Read one's own claims",
    "motor.claims:submit_own": "Notify one's own claims",
    "motor.claims:write": "Register and assess claims",
    "motor.claims:approve": "Approve claims within one's authority",
    "motor.claims:approve_high": "Approve claims above the standard authority limit",
    "motor.claims:settle": "Settle approved claims",
    "motor.surveys:read": "Read surveys",
    "motor.surveys:write": "Record surveys and damage assessments",
    "motor.payments:read": "Read payments, instalments, receipts and tax invoices",
    "motor.payments:read_own": "Read one's own payments and receipts",
    "motor.payments:write": "Record payments and issue receipts",
    "motor.payments:pay_own": "Pay one's own premiums",
    "motor.payments:refund": "Refund payments",
    "motor.payments:reconcile": "Reconcile payments against bank statements",
}

_ALL = frozenset(PERMISSIONS)


def _pick(*prefixes: str, actions: tuple[str, ...] = ()) -> frozenset[str]:
    """Every permission under the given area/resource prefixes (optionally only `actions`)."""
    return frozenset(
        p
        for p in PERMISSIONS
        if p.startswith(prefixes) and (not actions or p.rsplit(":", 1)[1] in actions)
    )


_STAFF_BASE = frozenset({"reference:read", "documents:read", "documents:write"})
_HEALTH_READ = _pick("health.", actions=("read",))
_MOTOR_READ = _pick("motor.", actions=("read",))

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.CUSTOMER: frozenset(
        {
            "motor.customers:read_own",
            "motor.policies:read_own",
            "motor.claims:read_own",
            "motor.claims:submit_own",
            "motor.payments:read_own",
            "motor.payments:pay_own",
            "documents:read_own",
            "documents:write_own",
            "reference:read",
        }
    ),
    Role.MEMBER: frozenset(
        {
            "health.members:read_own",
            "health.claims:read_own",
            "health.claims:submit_own",
            "health.plans:read",
            "health.providers:read",
            "documents:read_own",
            "documents:write_own",
            "reference:read",
        }
    ),
    Role.PROVIDER: frozenset(
        {
            "health.members:read",  # eligibility checks at admission
            "health.plans:read",
            "health.preauth:read",
            "health.preauth:submit",
            "health.claims:read",
            "health.claims:submit",
            "documents:write",
            "reference:read",
        }
    ),
    Role.AGENT: _STAFF_BASE
    | {
        "motor.customers:read",
        "motor.customers:write",
        "motor.vehicles:read",
        "motor.vehicles:write",
        "motor.quotes:write",
        "motor.policies:read",
        "motor.policies:write",
        "motor.claims:read",
        "motor.payments:read",
        "motor.payments:write",
    },
    Role.UNDERWRITER: _STAFF_BASE
    | _MOTOR_READ
    | {
        "motor.customers:write",
        "motor.vehicles:write",
        "motor.quotes:write",
        "motor.policies:write",
        "motor.policies:cancel",
        "motor.underwriting:decide",
        "motor.claims:approve",  # above the adjuster's authority (data/approval_limits.json)
        "motor.claims:approve_high",
        "health.members:read",
        "health.plans:read",
        "health.policies:read",
        "health.policies:write",
        "reports:read",
    },
    Role.ADJUSTER: _STAFF_BASE
    | _MOTOR_READ
    | {
        "motor.claims:write",
        "motor.claims:approve",
        "motor.claims:settle",
        "motor.surveys:write",
    },
    Role.SURVEYOR: _STAFF_BASE
    | {
        "motor.customers:read",
        "motor.vehicles:read",
        "motor.policies:read",
        "motor.claims:read",
        "motor.surveys:read",
        "motor.surveys:write",
    },
    Role.CLAIMS_PROCESSOR: _STAFF_BASE
    | _HEALTH_READ
    | {
        "health.preauth:decide",
        "health.claims:write",
        "health.claims:decide",
    },
    Role.MEDICAL_REVIEWER: _STAFF_BASE
    | _HEALTH_READ
    | {
        "health.preauth:decide",
        "health.claims:review",
        "health.claims:decide",
    },
    Role.FINANCE: _STAFF_BASE
    | {
        "health.claims:read",
        "health.claims:pay",
        "health.policies:read",
        "health.billing:read",
        "health.billing:write",
        "motor.customers:read",
        "motor.policies:read",
        "motor.claims:read",
        "motor.claims:settle",
        "motor.payments:read",
        "motor.payments:write",
        "motor.payments:refund",
        "motor.payments:reconcile",
        "reports:read",
    },
    Role.AUDITOR: _HEALTH_READ
    | _MOTOR_READ
    | {
        "iam.users:read",
        "iam.sessions:read",
        "audit:read",
        "audit:export",
        "reference:read",
        "documents:read",
        "ops:read",
        "reports:read",
    },
    # ADMIN runs the business: everything except the operator's and the privacy officer's
    # irreversible actions, which stay with SUPER_ADMIN.
    Role.ADMIN: _ALL - {"ops:write", "pdpa:anonymize", "audit:export"},
    Role.SUPER_ADMIN: _ALL,
}


def permissions_for(role: str) -> frozenset[str]:
    """The permissions of a role; none for an unknown role."""
    try:
        return ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return frozenset()


def has_permission(role: str, permission: str) -> bool:
    """Whether the role grants the permission."""
    return permission in permissions_for(role)


def check_known(permission: str) -> str:
    """The permission itself, or ValueError when it is not in the table."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}: add it to polis.iam.permissions")
    return permission
