"""Maker/taker fee rates by 30-day traded volume (the FeeTier table, edited in the admin).

A user's volume is the quote value of every fill they took part in over the last 30 days, maker or
taker, spot and futures together. Tiers are denominated in USDC, so only USDC-quoted markets count:
adding a BTC amount to a USDC threshold would be meaningless.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from exchange.models import FeeTier, Fill, MarketType

VOLUME_WINDOW = timedelta(days=30)
VOLUME_ASSET = "USDC"

# name, min 30-day volume, spot maker, spot taker, futures maker, futures taker. The first row is
# Backpack's public base tier (the same as settings.DEFAULT_FEES).
DEFAULT_TIERS = [
    ("Tier 1", Decimal(0), Decimal("0.0008"), Decimal("0.001"), Decimal("0.0002"), Decimal("0.0005")),
    (
        "Tier 2",
        Decimal(1_000_000),
        Decimal("0.0006"),
        Decimal("0.0009"),
        Decimal("0.00015"),
        Decimal("0.00045"),
    ),
    (
        "Tier 3",
        Decimal(10_000_000),
        Decimal("0.0004"),
        Decimal("0.0008"),
        Decimal("0.0001"),
        Decimal("0.0004"),
    ),
]


def volume_30d_for_user(*, user_id: int) -> Decimal:
    """Quote volume (USDC) of the user's fills in the last 30 days; a self-trade counts once."""
    since = timezone.now() - VOLUME_WINDOW
    total = Fill.objects.filter(
        Q(maker_user_id=user_id) | Q(taker_user_id=user_id),
        created_at__gte=since,
        market__quote__symbol=VOLUME_ASSET,
    ).aggregate(total=Sum("quote_quantity"))["total"]
    return total or Decimal(0)


def fee_rates_for_user(*, user_id: int, market_type: str) -> tuple[Decimal, Decimal]:
    """(maker rate, taker rate) as fractions for the user on a market of `market_type`.

    The highest tier whose threshold the user's 30-day volume reaches; settings.DEFAULT_FEES when
    the table has no tier at or below the volume (an empty table). Raises nothing.
    """
    volume = volume_30d_for_user(user_id=user_id)
    tier = FeeTier.objects.filter(min_volume_30d__lte=volume).order_by("-min_volume_30d").first()
    is_spot = market_type == MarketType.SPOT
    if tier is None:
        fees = settings.DEFAULT_FEES
        prefix = "spot" if is_spot else "futures"
        return Decimal(fees[f"{prefix}_maker"]), Decimal(fees[f"{prefix}_taker"])
    if is_spot:
        return tier.spot_maker_rate, tier.spot_taker_rate
    return tier.futures_maker_rate, tier.futures_taker_rate


@transaction.atomic
def fee_tiers_seed_defaults() -> int:
    """Create the default tiers if the table is empty; return how many were written (0 when the
    table already had tiers).

    An operator's table, edited or trimmed in the admin, is never touched: once any tier exists
    this does nothing, so a tier deleted on purpose does not come back on the next seed.
    """
    if FeeTier.objects.exists():
        return 0
    tiers = [
        FeeTier(
            name=name,
            min_volume_30d=volume,
            spot_maker_rate=spot_maker,
            spot_taker_rate=spot_taker,
            futures_maker_rate=futures_maker,
            futures_taker_rate=futures_taker,
        )
        for name, volume, spot_maker, spot_taker, futures_maker, futures_taker in DEFAULT_TIERS
    ]
    # Two seeders racing on an empty table: the loser's rows conflict on the unique name and
    # volume and are skipped instead of failing the whole start-up.
    created = FeeTier.objects.bulk_create(tiers, ignore_conflicts=True)
    return len(created)
