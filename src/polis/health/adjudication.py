"""Health claim submission: load the facts, lock the accumulators, adjudicate, write.

`submit_claim` runs inside the caller's transaction (it flushes, never commits):

1. validates the request and resolves its references (member, provider, coverage on the
   service date, policy, plan, benefits); a bad reference raises a `PolisError` before
   anything is written;
2. creates the accumulator rows it needs (INSERT ... ON CONFLICT DO NOTHING, in lock order)
   and locks them with SELECT ... FOR UPDATE ordered by (member_id, benefit_code NULLS
   FIRST): the plan-level rows of the policy's members when the plan has a family deductible
   or out-of-pocket maximum, else the member's own, and the member's benefit rows for the
   claim's benefits; then, for ASO policies that pay something, the policy row;
3. calls the pure engine `polis.health.rules.adjudicate` on the locked snapshot;
4. writes claims.claim and claims.claim_item, moves the accumulators by the engine's deltas
   and draws the plan's payment from the ASO fund, then the buffer fund. When both are short
   the claim is `pended` (reason `awaiting_funds`): its lines keep their computed amounts with
   status `pended`, and neither accumulators nor funds move.

For an ASO claim that drew money, each paying line's trace ends with a `funding` step saying
how much came from the ASO and the buffer fund; `void_claim` gives exactly that back.

Before the funds, the rules that send a claim to a person (decision 0025): a claim charging
more than HEALTH_CLAIM_REVIEW_AMOUNT (`review_amount`) or a reimbursement claim without the
documents of HEALTH_REIMBURSEMENT_DOCUMENTS (`documents_required`) is pended the same way,
moving nothing, until `decide_pended_claim`.

The lifecycle after submission, every status change through `polis.health.transitions`:
`void_claim` (reverse accumulators and funds; status `voided`), `readjudicate_claim` (void,
then a new claim for the same lines), `decide_pended_claim` (a person's decision),
`release_awaiting_funds` (after a top-up), `appeal_claim` / `decide_appeal`, `close_claim`;
`claim_history` reads the status changes back from the audit log.

Decision 0016 (and its addendum) records the lock order, the claim number scheme, the ASO
waiting rule and the lifecycle.

The code lives in the `polis.health.claims` package (decision 0038): `submit` (the use case
above), `statements` (its SQL, built once), `review` (pend for a person), `funding` (the ASO
record), `lifecycle` (void, re-adjudication, release, decisions, appeals, history) and
`common`. This module re-exports their names, so `polis.health.adjudication` stays the
import path of the rest of the code.
"""

from __future__ import annotations

from polis.health.claims.common import (
    AWAITING_FUNDS,
    COUNTED_STATUSES,
    DOCUMENTS_REQUIRED,
    DOCUMENTS_SETTING,
    REVIEW_AMOUNT,
    REVIEW_AMOUNT_SETTING,
    ZERO,
    _claim_status,
    _invalid,
)
from polis.health.claims.funding import (
    FUNDING_STEP,
    _funding_steps,
    _recorded_funding,
)
from polis.health.claims.lifecycle import (
    APPEAL_STEP,
    VOIDED,
    ReadjudicationOutcome,
    ReleaseOutcome,
    ReviewOutcome,
    StatusChange,
    TransitionOutcome,
    VoidOutcome,
    _add_step,
    _copy_documents,
    _family_ids,
    _items,
    _link,
    _locked_claim,
    _move,
    _moved,
    _negated,
    _status_before_appeal,
    appeal_claim,
    claim_history,
    close_claim,
    decide_appeal,
    decide_pended_claim,
    readjudicate_claim,
    release_awaiting_funds,
    void_claim,
)
from polis.health.claims.review import (
    ReviewSettings,
    _parse_review_settings,
    _review_settings,
    _review_settings_of,
    _review_steps,
    _setting_error,
    missing_documents,
    required_documents,
)
from polis.health.claims.statements import (
    _ACCUMULATOR_COLUMNS,
    _ACCUMULATOR_KEYS,
    _CLAIM_TABLE,
    _CREATE_ACCUMULATORS,
    _FACTS,
    _INSERT_CLAIM,
    _INSERT_ITEMS,
    _LOCK_ACCUMULATORS,
    _LOCK_POLICY_FUNDS,
    _MOVE_ACCUMULATORS,
    _benefit_rows,
    _BenefitRow,
    _day,
    _dec,
    _diagnosis,
    _exclusion_facts,
    _PlanKey,
    _sync_accumulators,
)
from polis.health.claims.submit import (
    _NO_AUTHORIZATIONS,
    _NUMBER_ALPHABET,
    ClaimLineRequest,
    ClaimOutcome,
    ClaimRequest,
    _apply_deltas,
    _benefit_facts,
    _BenefitLimits,
    _contract,
    _coverage,
    _lifetime_used,
    _lock_accumulators,
    _MemberRef,
    _out_of_pocket,
    _per_year_limit,
    _plan_facts,
    _PlanLimits,
    _validated_lines,
    new_claim_number,
    submit_claim,
)

__all__ = [
    "APPEAL_STEP",
    "AWAITING_FUNDS",
    "COUNTED_STATUSES",
    "DOCUMENTS_REQUIRED",
    "DOCUMENTS_SETTING",
    "FUNDING_STEP",
    "REVIEW_AMOUNT",
    "REVIEW_AMOUNT_SETTING",
    "VOIDED",
    "ZERO",
    "_ACCUMULATOR_COLUMNS",
    "_ACCUMULATOR_KEYS",
    "_CLAIM_TABLE",
    "_CREATE_ACCUMULATORS",
    "_FACTS",
    "_INSERT_CLAIM",
    "_INSERT_ITEMS",
    "_LOCK_ACCUMULATORS",
    "_LOCK_POLICY_FUNDS",
    "_MOVE_ACCUMULATORS",
    "_NO_AUTHORIZATIONS",
    "_NUMBER_ALPHABET",
    "ClaimLineRequest",
    "ClaimOutcome",
    "ClaimRequest",
    "ReadjudicationOutcome",
    "ReleaseOutcome",
    "ReviewOutcome",
    "ReviewSettings",
    "StatusChange",
    "TransitionOutcome",
    "VoidOutcome",
    "_BenefitLimits",
    "_BenefitRow",
    "_MemberRef",
    "_PlanKey",
    "_PlanLimits",
    "_add_step",
    "_apply_deltas",
    "_benefit_facts",
    "_benefit_rows",
    "_claim_status",
    "_contract",
    "_copy_documents",
    "_coverage",
    "_day",
    "_dec",
    "_diagnosis",
    "_exclusion_facts",
    "_family_ids",
    "_funding_steps",
    "_invalid",
    "_items",
    "_lifetime_used",
    "_link",
    "_lock_accumulators",
    "_locked_claim",
    "_move",
    "_moved",
    "_negated",
    "_out_of_pocket",
    "_parse_review_settings",
    "_per_year_limit",
    "_plan_facts",
    "_recorded_funding",
    "_review_settings",
    "_review_settings_of",
    "_review_steps",
    "_setting_error",
    "_status_before_appeal",
    "_sync_accumulators",
    "_validated_lines",
    "appeal_claim",
    "claim_history",
    "close_claim",
    "decide_appeal",
    "decide_pended_claim",
    "missing_documents",
    "new_claim_number",
    "readjudicate_claim",
    "release_awaiting_funds",
    "required_documents",
    "submit_claim",
    "void_claim",
]
