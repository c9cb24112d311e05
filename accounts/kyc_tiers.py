"""What each KYC tier unlocks: a pure table, no Django imports, shared by every gate.

    none      sign up, browse, set up 2FA and API keys; nothing that moves money
    basic     identity data given and screened clean: deposit, trade spot
    full      identity document and proof of address reviewed by an officer: + withdraw, + derivatives
    enhanced  enhanced due diligence (source of funds/wealth, PEPs): the highest limits

Derivatives are also subject to the resident's jurisdiction (see accounts.jurisdictions); a tier
never overrides a country rule. Limits are in EUR per rolling 24 hours; None means no cap (whether
the product is open at all is `products`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class Product(StrEnum):
    DEPOSIT = "deposit"
    TRADE_SPOT = "trade_spot"
    TRADE_DERIVATIVES = "trade_derivatives"
    WITHDRAW = "withdraw"


@dataclass(frozen=True)
class Tier:
    level: str
    label: str
    products: frozenset[Product]
    daily_withdrawal_limit_eur: Decimal | None
    daily_deposit_limit_eur: Decimal | None


TIERS: dict[str, Tier] = {
    tier.level: tier
    for tier in (
        Tier("none", "Unverified", frozenset(), Decimal("0"), Decimal("0")),
        Tier(
            "basic",
            "Basic",
            frozenset({Product.DEPOSIT, Product.TRADE_SPOT}),
            Decimal("0"),
            Decimal("15000"),
        ),
        Tier(
            "full",
            "Full",
            frozenset(Product),
            Decimal("50000"),
            Decimal("250000"),
        ),
        Tier(
            "enhanced",
            "Enhanced",
            frozenset(Product),
            Decimal("1000000"),
            None,  # no deposit cap once source of funds is documented
        ),
    )
}
ORDER = ("none", "basic", "full", "enhanced")


def tier_get(level: str) -> Tier:
    """The tier for a stored `kyc_level`; an unknown value is treated as unverified."""
    return TIERS.get(level, TIERS["none"])


def tier_allows(level: str, product: Product) -> bool:
    return product in tier_get(level).products


def tier_lowest_allowing(product: Product) -> Tier:
    """The first tier that unlocks `product`: what an error message tells the user to reach."""
    for level in ORDER:
        if product in TIERS[level].products:
            return TIERS[level]
    raise ValueError(f"no tier unlocks {product}")
