"""Reads of exchange state, scoped to the caller. Services write; these only read."""

from __future__ import annotations

from decimal import Decimal

from exchange.models import AccountKind, LedgerAccount

# The buckets GET /api/v1/capital shows per asset, in the order it shows them.
CAPITAL_KINDS = (
    AccountKind.AVAILABLE,
    AccountKind.LOCKED,
    AccountKind.STAKED,
    AccountKind.LENT,
    AccountKind.BORROWED,
)


def balances_for_user(*, user_id: int) -> dict[str, dict[str, Decimal]]:
    """{asset symbol: {"available", "locked", "staked", "lent", "borrowed": balance}}, sorted by symbol.

    Lists every asset the user has a ledger account in, even when every bucket is zero; buckets
    with no account are zero. `borrowed` is a debt: zero or negative.
    """
    rows = (
        LedgerAccount.objects.filter(owner_id=user_id, kind__in=CAPITAL_KINDS)
        .order_by("asset__symbol")
        .values_list("asset__symbol", "kind", "balance")
    )
    result: dict[str, dict[str, Decimal]] = {}
    for symbol, kind, balance in rows:
        buckets = result.setdefault(symbol, {k.value: Decimal(0) for k in CAPITAL_KINDS})
        buckets[kind] = balance
    return result
