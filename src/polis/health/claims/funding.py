"""The per-line record of what the ASO and buffer funds paid (void gives it back)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from polis.health import rules
from polis.health.claims.common import (
    COUNTED_STATUSES,
    ZERO,
)
from polis.health.models import (
    ClaimItem,
)

# --- the claim's funding record -----------------------------------------------------------

FUNDING_STEP = "funding"


def _funding_steps(
    result: rules.AdjudicationResult, aso_drawn: Decimal, buffer_drawn: Decimal
) -> list[list[dict[str, str]]]:
    """Per line, the trace step recording which ASO fund paid it (empty when nothing was
    drawn): the ASO part is spread over the paying lines in order, then the buffer part, so
    the steps sum to the claim's draws. `void_claim` returns exactly these amounts."""
    steps: list[list[dict[str, str]]] = []
    aso_left = aso_drawn
    for line in result.lines:
        paid = line.paid_amount
        if not (aso_drawn or buffer_drawn) or paid <= 0:
            steps.append([])
            continue
        from_aso = min(aso_left, paid)
        aso_left -= from_aso
        from_buffer = paid - from_aso
        steps.append(
            [
                {
                    "code": FUNDING_STEP,
                    "message": (
                        f"paid {paid} from the ASO fund ({from_aso}) "
                        f"and the buffer fund ({from_buffer})"
                    ),
                    "amount_before": str(paid),
                    "amount_after": str(paid),
                    "aso_fund": str(from_aso),
                    "buffer_fund": str(from_buffer),
                }
            ]
        )
    return steps


def _recorded_funding(items: Sequence[ClaimItem]) -> tuple[Decimal, Decimal]:
    """(ASO, buffer) drawn for the claim, from its items' funding steps. A claim written
    before the steps existed returns its paid total to the ASO fund (the fund drawn first)."""
    aso = buffer = ZERO
    recorded = False
    for item in items:
        for step in item.adjudication_trace or []:
            if step.get("code") == FUNDING_STEP:
                recorded = True
                aso += Decimal(step["aso_fund"])
                buffer += Decimal(step["buffer_fund"])
    if not recorded:
        aso = sum((i.paid_amount or ZERO for i in items if i.status in COUNTED_STATUSES), ZERO)
    return aso, buffer
