"""Model -> Backpack JSON. Every decimal is a string; timestamps in the unit each endpoint uses."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from core.money import render
from exchange.models import Asset, Market, MarketType


def dec(value: Decimal | None) -> str | None:
    return None if value is None else render(value)


def naive_iso(moment: datetime) -> str:
    """Backpack's naive ISO form (UTC, no offset, milliseconds): 2025-07-27T18:05:40.897."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def asset_json(asset: Asset) -> dict[str, Any]:
    return {
        "symbol": asset.symbol,
        "displayName": asset.display_name,
        "coingeckoId": asset.coingecko_id or None,
        "tokens": [
            {
                "blockchain": token.blockchain,
                "contractAddress": token.contract_address or None,
                "depositEnabled": token.deposit_enabled,
                "withdrawEnabled": token.withdraw_enabled,
                "minimumDeposit": dec(token.minimum_deposit),
                "minimumWithdrawal": dec(token.minimum_withdrawal),
                "maximumWithdrawal": dec(token.maximum_withdrawal),
                "withdrawalFee": dec(token.withdrawal_fee),
                "displayName": token.display_name,
                "nativeDecimals": token.native_decimals,
            }
            for token in asset.tokens.all()
        ],
    }


def _margin_function(base: Decimal | None, factor: Decimal | None) -> dict[str, str] | None:
    if base is None or factor is None:
        return None
    return {"type": "sqrt", "base": render(base), "factor": render(factor)}


def market_json(market: Market) -> dict[str, Any]:
    is_perp = market.market_type == MarketType.PERP
    return {
        "symbol": market.symbol,
        "baseSymbol": market.base.symbol,
        "quoteSymbol": market.quote.symbol,
        "marketType": market.market_type,
        "filters": {
            "price": {
                "minPrice": dec(market.min_price),
                "maxPrice": dec(market.max_price),
                "tickSize": dec(market.tick_size),
            },
            "quantity": {
                "minQuantity": dec(market.min_quantity),
                "maxQuantity": dec(market.max_quantity),
                "stepSize": dec(market.step_size),
            },
        },
        "imfFunction": _margin_function(market.imf_base, market.imf_factor) if is_perp else None,
        "mmfFunction": _margin_function(market.mmf_base, market.mmf_factor) if is_perp else None,
        "fundingInterval": market.funding_interval_ms if is_perp else None,
        "fundingRateUpperBound": dec(market.funding_rate_upper_bound) if is_perp else None,
        "fundingRateLowerBound": dec(market.funding_rate_lower_bound) if is_perp else None,
        "openInterestLimit": dec(market.open_interest_limit) if is_perp else None,
        "orderBookState": market.order_book_state,
        "createdAt": naive_iso(market.created_at),
        "visible": market.visible,
    }
