"""Business-number tokens: random Crockford base-32 characters (no I, L, O or U), used by the
claim, guarantee-letter, EOB, quote and payment-run number schemes."""

from __future__ import annotations

import secrets

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def random_code(length: int) -> str:
    """`length` random Crockford base-32 characters (5 bits each) from the `secrets` CSPRNG."""
    return "".join(secrets.choice(CROCKFORD) for _ in range(length))
