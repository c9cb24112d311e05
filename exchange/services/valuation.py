"""EUR values of crypto amounts, for limits and thresholds stated in EUR (tier limits, the travel
rule's 1,000 EUR, the four-eyes threshold).

An asset is valued at the last trade price of its spot market against a USD stablecoin, converted
with the configured EUR/USD rate (`VALUATION_EUR_USD_RATE`: USD for one EUR); the stablecoins
themselves (`VALUATION_USD_STABLECOINS`) are one USD. Values are rounded up to the cent: a value
that decides whether a control applies errs towards applying it.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from core.money import ROUND_UP, quantise
from exchange.models import Asset, MarketState

DEFAULT_EUR_USD_RATE = Decimal("1.08")
DEFAULT_USD_STABLECOINS = ("USDC", "USDT", "USD")
CENT = Decimal("0.01")


def eur_usd_rate() -> Decimal:
    """USD per EUR from settings; a Decimal or a decimal string, never a float."""
    rate = Decimal(str(getattr(settings, "VALUATION_EUR_USD_RATE", DEFAULT_EUR_USD_RATE)))
    if not rate.is_finite() or rate <= 0:
        raise ValueError("VALUATION_EUR_USD_RATE must be a positive decimal")
    return rate


def usd_stablecoins() -> tuple[str, ...]:
    return tuple(getattr(settings, "VALUATION_USD_STABLECOINS", DEFAULT_USD_STABLECOINS))


def asset_price_usd(*, asset: Asset) -> Decimal | None:
    """One unit of `asset` in USD, or None when no market against a USD stablecoin has traded."""
    stablecoins = usd_stablecoins()
    if asset.symbol in stablecoins:
        return Decimal(1)
    prices = dict(
        MarketState.objects.filter(
            market__base=asset,
            market__quote__symbol__in=stablecoins,
            market__market_type="SPOT",
            last_price__isnull=False,
        ).values_list("market__quote__symbol", "last_price")
    )
    # The first stablecoin in the configured order that has a price: a stable choice.
    for symbol in stablecoins:
        if symbol in prices:
            return Decimal(prices[symbol])
    return None


def asset_value_eur(*, asset: Asset, quantity: Decimal) -> Decimal | None:
    """`quantity` of `asset` in EUR, rounded up to the cent; None when the asset has no price."""
    price = asset_price_usd(asset=asset)
    if price is None:
        return None
    return quantise(quantity * price / eur_usd_rate(), CENT, ROUND_UP)
