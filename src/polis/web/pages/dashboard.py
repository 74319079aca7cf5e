"""The dashboards: claims by status and month, loss ratios, ASO fund balances and motor
premiums written; server-side SVG charts, each with the same figures as a table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from babel.numbers import format_decimal
from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import func, select

from polis.db.session import DBSession
from polis.health.authorizations import today_jakarta
from polis.health.models import Claim, Policy
from polis.health.payments import JAKARTA
from polis.iam.auth import Principal
from polis.motor.models import ClaimSettlement, MotorPayment, MotorPolicy
from polis.platform.errors import Forbidden
from polis.web import i18n
from polis.web.routing import WebRoute
from polis.web.session import require_page
from polis.web.templating import render
from polis.web.words import STATUSES, words

router = APIRouter(route_class=WebRoute, include_in_schema=False)
_ = i18n.gettext_

ClaimsRead = Annotated[Principal, Depends(require_page("health.claims:read"))]
# The loss ratio page: either half (health: claims and policies read; motor: claims and
# payments read), each shown only with both permissions of its half.
LossRatioRead = Annotated[
    Principal, Depends(require_page("health.claims:read", "motor.claims:read"))
]
HealthPoliciesRead = Annotated[Principal, Depends(require_page("health.policies:read"))]
MotorPoliciesRead = Annotated[Principal, Depends(require_page("motor.policies:read"))]
# Whoever may open one dashboard (each role reading motor claims and payments also reads
# motor policies).
DASHBOARD_PERMISSIONS = ("health.claims:read", "health.policies:read", "motor.policies:read")
AnyDashboard = Annotated[Principal, Depends(require_page(*DASHBOARD_PERMISSIONS))]
# Every dashboard, with the permissions that open it, all of them (the index links to those
# allowed; the loss ratio twice, one line per half).
DASHBOARDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("/web/dashboard", "Claims by status and month of service", ("health.claims:read",)),
    ("/web/dashboard/loss-ratio", "Loss ratio", ("health.claims:read", "health.policies:read")),
    ("/web/dashboard/loss-ratio", "Loss ratio", ("motor.claims:read", "motor.payments:read")),
    ("/web/dashboard/funds", "ASO fund balances", ("health.policies:read",)),
    ("/web/dashboard/premiums", "Motor premiums written per month", ("motor.policies:read",)),
)
MONTHS = 6
# Status groups of the chart, bottom to top, with their CSS classes.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("paid", ("paid", "closed", "payment_pending")),
    ("approved", ("approved", "partially_approved")),
    ("pended", ("pended", "submitted", "adjudicating", "appealed")),
    ("denied", ("denied",)),
)


def _months(today: date, count: int) -> list[tuple[int, int]]:
    """The last `count` (year, month), oldest first."""
    year, month = today.year, today.month
    found = []
    for _ in range(count):
        found.append((year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return found[::-1]


def chart(counts: dict[tuple[int, int, str], int], months: list[tuple[int, int]]) -> dict[str, Any]:
    """The bars of the chart: per month, stacked rectangles per status group (SVG units)."""
    width, height, left, bottom = 640, 260, 40, 30
    plot = height - bottom - 10
    per_month = [
        [(g, sum(counts.get((y, m, s), 0) for s in members)) for g, members in GROUPS]
        for y, m in months
    ]
    peak = max([sum(n for _, n in bars) for bars in per_month] + [1])
    slot = (width - left) / len(months)
    bars: list[dict[str, Any]] = []
    for i, ((y, m), groups) in enumerate(zip(months, per_month, strict=True)):
        x = left + i * slot + slot * 0.2
        top: float = height - bottom
        for group, n in groups:
            h = plot * n / peak
            if n:
                bars.append(
                    {
                        "x": round(x, 1),
                        "y": round(top - h, 1),
                        "w": round(slot * 0.6, 1),
                        "h": round(h, 1),
                        "group": group,
                        "n": n,
                        "label": f"{i18n.month_name(y, m)}: {words(STATUSES, group)} {n}",
                    }
                )
            top -= h
    labels = [
        {"x": round(left + i * slot + slot / 2, 1), "text": i18n.month_name(y, m)}
        for i, (y, m) in enumerate(months)
    ]
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "labels": labels,
        "peak": peak,
        "baseline": height - bottom,
        "left": left,
    }


@router.get("/dashboard")
async def dashboard(request: Request, session: DBSession, principal: AnyDashboard) -> Response:
    """Claims by status and month of service (the last six months), as an SVG chart and a
    table with the same figures (for screen readers and for copying), with
    health.claims:read; and the links to the other dashboards the role may open."""
    context: dict[str, Any] = {"dashboards": dashboard_links(principal), "chart": None}
    if not principal.can("health.claims:read"):
        return render(request, "dashboard.html", context)
    months = _months(today_jakarta(), MONTHS)
    start = date(months[0][0], months[0][1], 1)
    year = func.extract("year", Claim.service_date)
    month = func.extract("month", Claim.service_date)
    rows = await session.execute(
        select(year, month, Claim.status, func.count())
        .where(Claim.service_date >= start)
        .group_by(year, month, Claim.status)
    )
    counts = {(int(r[0]), int(r[1]), str(r[2])): int(r[3]) for r in rows}
    table = [
        {
            "month": i18n.month_name(y, m),
            "groups": [sum(counts.get((y, m, s), 0) for s in members) for _g, members in GROUPS],
        }
        for y, m in months
    ]
    context.update(
        chart=chart(counts, months),
        groups=[(g, words(STATUSES, g)) for g, _g in GROUPS],
        table=table,
    )
    return render(request, "dashboard.html", context)


def dashboard_links(principal: Principal) -> list[dict[str, str]]:
    """The dashboards the role may open (translated titles)."""
    links: dict[str, dict[str, str]] = {}
    for path, title, permissions in DASHBOARDS:
        if all(principal.can(p) for p in permissions):
            links.setdefault(path, {"path": path, "title": _(title)})
    return list(links.values())


def baht(amount: Decimal | None) -> str:
    """A motor amount (Thai baht: the motor tables' currency), two decimals."""
    if amount is None:
        return "-"
    lang = i18n.current_language()
    digits = format_decimal(
        Decimal(amount).quantize(Decimal("0.01")), format="#,##0.00", locale=lang
    )
    return f"THB {digits}"


def percent(ratio: Decimal | None) -> str:
    """A ratio as a percentage with one decimal ('-' when there is none)."""
    if ratio is None:
        return "-"
    lang = i18n.current_language()
    return format_decimal(ratio * 100, format="#,##0.0", locale=lang) + " %"


def ratio_of(part: Decimal, whole: Decimal | None) -> Decimal | None:
    """part / whole, None when there is nothing to divide by."""
    if not whole:
        return None
    return (part / whole).quantize(Decimal("0.0001"))


@dataclass(frozen=True)
class Series:
    """One series of a bar chart: its key (CSS class bar-<css>), label and values."""

    css: str
    label: str
    values: list[Decimal]


def grouped_bars(
    labels: list[str], series: list[Series], fmt: Any, *, width: int = 640, height: int = 260
) -> dict[str, Any]:
    """Bars side by side per label (months or policies), one per series (SVG units); each
    rectangle carries its figure in a <title>."""
    left, bottom = 48, 30
    plot = height - bottom - 14
    peak = max([v for s in series for v in s.values] + [Decimal("0")])
    scale = peak if peak > 0 else Decimal("1")
    slot = (width - left) / max(len(labels), 1)
    inner = slot * 0.7 / max(len(series), 1)
    bars: list[dict[str, Any]] = []
    for i, label in enumerate(labels):
        for k, s in enumerate(series):
            value = s.values[i]
            h = float(plot * value / scale) if value > 0 else 0.0
            if h:
                bars.append(
                    {
                        "x": round(left + i * slot + slot * 0.15 + k * inner, 1),
                        "y": round(height - bottom - h, 1),
                        "w": round(inner, 1),
                        "h": round(h, 1),
                        "css": s.css,
                        "label": f"{label}: {s.label} {fmt(value)}",
                    }
                )
    ticks = [
        {"x": round(left + i * slot + slot / 2, 1), "text": label} for i, label in enumerate(labels)
    ]
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "labels": ticks,
        "peak": fmt(peak),
        "baseline": height - bottom,
        "left": left,
        "legend": [(s.css, s.label) for s in series],
    }


def _month_start(months: list[tuple[int, int]]) -> datetime:
    return datetime.combine(date(months[0][0], months[0][1], 1), time(), tzinfo=JAKARTA)


# Health claims counted as paid by the plan: paid, or closed after being paid (a closed
# denied claim paid nothing, so it adds zero).
PAID_STATUSES = ("paid", "closed")


async def health_loss_ratio(session: DBSession) -> list[dict[str, Any]]:
    """Per health policy: the contributions recorded on it (policy.total_premium), the
    claims the plan paid (total_paid_amount of paid and closed claims) and their ratio."""
    paid = (
        select(Claim.policy_id, func.sum(Claim.total_paid_amount).label("paid"))
        .where(Claim.status.in_(PAID_STATUSES))
        .group_by(Claim.policy_id)
        .subquery()
    )
    rows = await session.execute(
        select(
            Policy.policy_number,
            Policy.funding_type,
            Policy.total_premium,
            func.coalesce(paid.c.paid, 0),
        )
        .outerjoin(paid, paid.c.policy_id == Policy.id)
        .order_by(Policy.policy_number)
    )
    return [
        {
            "policy_number": r[0],
            "funding_type": r[1],
            "premium": r[2],
            "paid": Decimal(r[3]),
            "ratio": ratio_of(Decimal(r[3]), r[2]),
        }
        for r in rows
    ]


async def motor_loss_ratio(
    session: DBSession, months: list[tuple[int, int]]
) -> list[dict[str, Any]]:
    """Per month (Asia/Bangkok, the motor business's time zone): premiums received
    (successful PREMIUM and INSTALLMENT payments, by payment date) and claims paid (PAID
    settlements' net amount, by the time paid)."""
    start = _month_start(months)
    paid_at = func.timezone("Asia/Bangkok", MotorPayment.payment_date)
    received = await session.execute(
        select(
            func.extract("year", paid_at),
            func.extract("month", paid_at),
            func.sum(MotorPayment.amount),
        )
        .where(
            MotorPayment.payment_type.in_(("PREMIUM", "INSTALLMENT")),
            MotorPayment.payment_status == "SUCCESS",
            MotorPayment.payment_date >= start,
        )
        .group_by(func.extract("year", paid_at), func.extract("month", paid_at))
    )
    premiums = {(int(r[0]), int(r[1])): Decimal(r[2]) for r in received}
    settled_at = func.timezone("Asia/Bangkok", ClaimSettlement.paid_at)
    settled = await session.execute(
        select(
            func.extract("year", settled_at),
            func.extract("month", settled_at),
            func.sum(ClaimSettlement.net_amount),
        )
        .where(ClaimSettlement.status == "PAID", ClaimSettlement.paid_at >= start)
        .group_by(func.extract("year", settled_at), func.extract("month", settled_at))
    )
    claims = {(int(r[0]), int(r[1])): Decimal(r[2]) for r in settled}
    zero = Decimal("0.00")
    return [
        {
            "month": i18n.month_name(y, m),
            "premiums": premiums.get((y, m), zero),
            "claims": claims.get((y, m), zero),
            "ratio": ratio_of(claims.get((y, m), zero), premiums.get((y, m), zero)),
        }
        for y, m in months
    ]


@router.get("/dashboard/loss-ratio")
async def loss_ratio(request: Request, session: DBSession, principal: LossRatioRead) -> Response:
    """Loss ratios: health per policy (claims paid / contributions), motor per month
    (claims paid / premiums received), as charts and tables."""
    reads_health = principal.can("health.claims:read") and principal.can("health.policies:read")
    reads_motor = principal.can("motor.claims:read") and principal.can("motor.payments:read")
    if not (reads_health or reads_motor):
        raise Forbidden(
            "The loss ratio needs health.claims:read and health.policies:read, or "
            "motor.claims:read and motor.payments:read."
        )
    context: dict[str, Any] = {"dashboards": dashboard_links(principal)}
    if reads_health:
        policies = await health_loss_ratio(session)
        context["health"] = policies
        context["health_total"] = {
            "premium": sum((p["premium"] or Decimal("0") for p in policies), Decimal("0")),
            "paid": sum((p["paid"] for p in policies), Decimal("0")),
        }
        context["health_total"]["ratio"] = ratio_of(
            context["health_total"]["paid"], context["health_total"]["premium"]
        )
        shown = [p for p in policies if p["premium"] or p["paid"]][:12]
        context["health_chart"] = grouped_bars(
            [p["policy_number"] for p in shown],
            [
                Series(
                    "approved", _("Contributions"), [p["premium"] or Decimal("0") for p in shown]
                ),
                Series("paid", _("Claims paid"), [p["paid"] for p in shown]),
            ],
            i18n.money,
        )
    if reads_motor:
        months = _months(today_jakarta(), 12)
        rows = await motor_loss_ratio(session, months)
        context["motor"] = rows
        total_premiums = sum((r["premiums"] for r in rows), Decimal("0"))
        total_claims = sum((r["claims"] for r in rows), Decimal("0"))
        context["motor_total"] = {
            "premiums": total_premiums,
            "claims": total_claims,
            "ratio": ratio_of(total_claims, total_premiums),
        }
        context["motor_chart"] = grouped_bars(
            [r["month"] for r in rows],
            [
                Series("approved", _("Premiums received"), [r["premiums"] for r in rows]),
                Series("paid", _("Claims paid"), [r["claims"] for r in rows]),
            ],
            baht,
        )
    context["percent"] = percent
    context["baht"] = baht
    return render(request, "dashboards/loss_ratio.html", context)


LOW_DEFAULT = Decimal("50000000.00")


def _threshold(value: str | None) -> tuple[Decimal, bool]:
    if not value:
        return LOW_DEFAULT, True
    try:
        amount = Decimal(value.replace(",", "").replace(" ", ""))
    except InvalidOperation:
        return LOW_DEFAULT, False
    if not amount.is_finite() or amount < 0 or amount > Decimal("1e15"):
        return LOW_DEFAULT, False
    return amount.quantize(Decimal("0.01")), True


@router.get("/dashboard/funds")
async def fund_balances(
    request: Request,
    session: DBSession,
    principal: HealthPoliciesRead,
    below: Annotated[str | None, Query(max_length=30)] = None,
) -> Response:
    """The ASO and buffer fund balances of every ASO-funded policy (the balances GET
    /health/policies/{n} shows); a fund below the threshold is marked low."""
    threshold, ok = _threshold(below)
    policies = (
        await session.scalars(
            select(Policy).where(Policy.funding_type == "aso").order_by(Policy.policy_number)
        )
    ).all()
    zero = Decimal("0.00")
    rows: list[dict[str, Any]] = [
        {
            "policy_number": p.policy_number,
            "holder": p.company_name or "",
            "aso": p.aso_fund_balance or zero,
            "buffer": p.buffer_fund_balance or zero,
            "aso_low": (p.aso_fund_balance or zero) < threshold,
            "buffer_low": (p.buffer_fund_balance or zero) < threshold,
        }
        for p in policies
    ]
    shown = rows[:12]
    context = {
        "rows": rows,
        "threshold": threshold,
        "below": below if below is not None else str(LOW_DEFAULT),
        "below_error": None if ok else _("Enter an amount of zero or more, e.g. 50000000."),
        "low_count": sum(1 for r in rows if r["aso_low"]),
        "chart": grouped_bars(
            [r["policy_number"] for r in shown],
            [
                Series("approved", _("ASO fund"), [r["aso"] for r in shown]),
                Series("pended", _("Buffer fund"), [r["buffer"] for r in shown]),
            ],
            i18n.money,
        ),
        "dashboards": dashboard_links(principal),
    }
    return render(request, "dashboards/funds.html", context, status_code=200 if ok else 422)


@router.get("/dashboard/premiums")
async def premiums_written(
    request: Request, session: DBSession, principal: MotorPoliciesRead
) -> Response:
    """Motor policies issued per month (the last twelve, by the moment the policy was
    written) and the premium they wrote."""
    months = _months(today_jakarta(), 12)
    start = _month_start(months)
    written = func.timezone("Asia/Bangkok", MotorPolicy.created_at)
    result = await session.execute(
        select(
            func.extract("year", written),
            func.extract("month", written),
            func.count(),
            func.sum(MotorPolicy.total_premium),
        )
        .where(
            MotorPolicy.created_at >= start,
            MotorPolicy.deleted_at.is_(None),
            MotorPolicy.status != "DRAFT",
        )
        .group_by(func.extract("year", written), func.extract("month", written))
    )
    found = {(int(r[0]), int(r[1])): (int(r[2]), Decimal(r[3])) for r in result}
    zero = Decimal("0.00")
    rows: list[dict[str, Any]] = [
        {
            "month": i18n.month_name(y, m),
            "count": found.get((y, m), (0, zero))[0],
            "premium": found.get((y, m), (0, zero))[1],
        }
        for y, m in months
    ]
    context = {
        "rows": rows,
        "total_count": sum(r["count"] for r in rows),
        "total_premium": sum((r["premium"] for r in rows), zero),
        "chart": grouped_bars(
            [r["month"] for r in rows],
            [Series("approved", _("Premium written"), [r["premium"] for r in rows])],
            baht,
        ),
        "baht": baht,
        "dashboards": dashboard_links(principal),
    }
    return render(request, "dashboards/premiums.html", context)
