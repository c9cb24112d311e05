"""Demo assets and markets: seeded on first start and by tests; running it again changes nothing."""

from __future__ import annotations

from decimal import Decimal as D  # noqa: N817 (keeps the tables readable)

from django.db import transaction

from exchange.models import Asset, AssetToken, Market, MarketType

# symbol, name, ledger decimals, coingecko id, tokens:
#   (blockchain, native decimals, contract, min deposit, min withdrawal, withdrawal fee)
ASSETS = [
    ("BTC", "Bitcoin", 8, "bitcoin", [("Bitcoin", 8, "", D("0.0001"), D("0.0002"), D("0.00005"))]),
    ("ETH", "Ethereum", 8, "ethereum", [("Ethereum", 18, "", D("0.001"), D("0.002"), D("0.0015"))]),
    ("SOL", "Solana", 8, "solana", [("Solana", 9, "", D("0.01"), D("0.02"), D("0.01"))]),
    (
        "USDC",
        "USD Coin",
        6,
        "usd-coin",
        [
            ("Solana", 6, "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", D("1"), D("2"), D("1")),
            ("Ethereum", 6, "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", D("5"), D("10"), D("5")),
        ],
    ),
]

# symbol, base, quote, type, tick, step, min qty, max qty, min price
MARKETS = [
    ("BTC_USDC", "BTC", "USDC", MarketType.SPOT, D("0.1"), D("0.00001"), D("0.00001"), D("1000"), D("0.1")),
    ("ETH_USDC", "ETH", "USDC", MarketType.SPOT, D("0.01"), D("0.0001"), D("0.0001"), D("10000"), D("0.01")),
    ("SOL_USDC", "SOL", "USDC", MarketType.SPOT, D("0.01"), D("0.01"), D("0.01"), D("1000000"), D("0.01")),
    ("BTC_USDC_PERP", "BTC", "USDC", MarketType.PERP, D("0.1"), D("0.0001"), D("0.0001"), D("500"), D("0.1")),
    (
        "SOL_USDC_PERP",
        "SOL",
        "USDC",
        MarketType.PERP,
        D("0.01"),
        D("0.01"),
        D("0.01"),
        D("500000"),
        D("0.01"),
    ),
]

PERP_DEFAULTS = {
    "funding_interval_ms": 3_600_000,
    "funding_rate_upper_bound": D("0.01"),
    "funding_rate_lower_bound": D("-0.01"),
    "imf_base": D("0.02"),
    "imf_factor": D("0.0001"),
    "mmf_base": D("0.0125"),
    "mmf_factor": D("0.00006"),
}


@transaction.atomic
def demo_seed_markets() -> None:
    """Create the demo assets, tokens and markets that do not exist yet (never edits existing ones)."""
    assets: dict[str, Asset] = {}
    for symbol, name, decimals, coingecko_id, tokens in ASSETS:
        asset, _ = Asset.objects.get_or_create(
            symbol=symbol, defaults={"display_name": name, "decimals": decimals, "coingecko_id": coingecko_id}
        )
        assets[symbol] = asset
        for blockchain, native, contract, min_deposit, min_withdrawal, fee in tokens:
            AssetToken.objects.get_or_create(
                asset=asset,
                blockchain=blockchain,
                defaults={
                    "display_name": f"{name} ({blockchain})",
                    "native_decimals": native,
                    "contract_address": contract,
                    "minimum_deposit": min_deposit,
                    "minimum_withdrawal": min_withdrawal,
                    "withdrawal_fee": fee,
                },
            )
    for symbol, base, quote, market_type, tick, step, min_qty, max_qty, min_price in MARKETS:
        defaults = {
            "base": assets[base],
            "quote": assets[quote],
            "market_type": market_type,
            "tick_size": tick,
            "step_size": step,
            "min_quantity": min_qty,
            "max_quantity": max_qty,
            "min_price": min_price,
        }
        if market_type == MarketType.PERP:
            defaults.update(PERP_DEFAULTS)
        Market.objects.get_or_create(symbol=symbol, defaults=defaults)
