"""The one gate every money-moving path calls: KYC tier (accounts.kyc_tiers) and the resident's
jurisdiction (accounts.jurisdictions), in that order of precedence: a country rule is never
overridden by a tier, and its message is the one the customer needs (verifying further would
not help a resident of a blocked country).

Reads only the User row the caller already holds and the in-process jurisdiction cache: no query
on the order path (after the first load of the table in a process).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accounts.jurisdictions import jurisdiction_rule
from accounts.kyc_tiers import Product, tier_allows, tier_lowest_allowing
from core.errors import Forbidden

if TYPE_CHECKING:
    from accounts.models import User
    from exchange.models import Market

# What the customer is trying to do, as the end of "Complete basic verification to ...".
PRODUCT_VERBS: dict[Product, str] = {
    Product.DEPOSIT: "deposit",
    Product.TRADE_SPOT: "trade",
    Product.TRADE_DERIVATIVES: "trade perpetual futures",
    Product.WITHDRAW: "withdraw",
}
PERP_MARKET_TYPE = "PERP"  # exchange.models.MarketType.PERP, without importing the exchange app


def access_product(*, product: Product, market: Market | None = None) -> Product:
    """A trade on a perpetual market is a derivatives trade whatever the caller passed."""
    if market is not None and market.market_type == PERP_MARKET_TYPE:
        return Product.TRADE_DERIVATIVES
    return product


def access_refusal(*, user: User, product: Product, market: Market | None = None) -> str | None:
    """Why `user` may not use `product` (on `market`), or None when they may."""
    product = access_product(product=product, market=market)
    rule = jurisdiction_rule(user.residence_country)
    if not rule.onboarding_allowed:
        return f"Satchel is not available to residents of {rule.name}"
    if product == Product.TRADE_DERIVATIVES and not rule.derivatives_allowed:
        return f"Perpetual futures are not available to residents of {rule.name}"
    if not tier_allows(user.kyc_level, product):
        tier = tier_lowest_allowing(product)
        return f"Complete {tier.label.lower()} verification to {PRODUCT_VERBS[product]}"
    return None


def access_require(*, user: User, product: Product, market: Market | None = None) -> None:
    """Raise Forbidden (code FORBIDDEN, 403) with a message the customer can act on when `user`
    may not use `product`; a PERP `market` makes the product TRADE_DERIVATIVES."""
    refusal = access_refusal(user=user, product=product, market=market)
    if refusal is not None:
        raise Forbidden(refusal)


def access_allows(*, user: User, product: Product, market: Market | None = None) -> bool:
    return access_refusal(user=user, product=product, market=market) is None


# WebSocket streams that only make sense with derivatives (exchange.streams names).
DERIVATIVE_PRIVATE_STREAMS = frozenset({"account.positionUpdate"})
DERIVATIVE_PUBLIC_KINDS = frozenset({"markPrice"})


def stream_refusal(*, user: User, kind: str, is_private: bool, market: Market | None = None) -> str | None:
    """Why `user`'s authenticated socket may not subscribe to a stream of `kind` (on `market`):
    a blocked country gets no private stream; a country without derivatives no position updates
    and no perpetual mark prices. Public data of spot markets stays open to everyone."""
    rule = jurisdiction_rule(user.residence_country)
    if is_private and not rule.onboarding_allowed:
        return f"Satchel is not available to residents of {rule.name}"
    is_derivative = kind in DERIVATIVE_PRIVATE_STREAMS or (
        kind in DERIVATIVE_PUBLIC_KINDS and market is not None and market.market_type == PERP_MARKET_TYPE
    )
    if is_derivative and not rule.derivatives_allowed:
        return f"Perpetual futures are not available to residents of {rule.name}"
    return None
