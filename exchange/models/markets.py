from __future__ import annotations

from django.db import models
from django.utils import timezone

from exchange.models.assets import Asset
from exchange.models.fields import amount_field


class MarketType(models.TextChoices):
    SPOT = "SPOT", "Spot"
    PERP = "PERP", "Perpetual"


class OrderBookState(models.TextChoices):
    OPEN = "Open", "Open"
    CLOSED = "Closed", "Closed"
    CANCEL_ONLY = "CancelOnly", "Cancel only"
    LIMIT_ONLY = "LimitOnly", "Limit only"
    POST_ONLY = "PostOnly", "Post only"


class Market(models.Model):
    symbol = models.CharField(max_length=32, unique=True)
    base = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="base_markets")
    quote = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="quote_markets")
    market_type = models.CharField(max_length=8, choices=MarketType.choices)
    order_book_state = models.CharField(
        max_length=16, choices=OrderBookState.choices, default=OrderBookState.OPEN
    )
    visible = models.BooleanField(default=True)
    tick_size = amount_field()
    step_size = amount_field()
    min_price = amount_field()
    max_price = amount_field(null=True, blank=True)
    min_quantity = amount_field()
    max_quantity = amount_field(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Perpetuals only.
    funding_interval_ms = models.PositiveBigIntegerField(null=True, blank=True)
    funding_rate_upper_bound = amount_field(null=True, blank=True)
    funding_rate_lower_bound = amount_field(null=True, blank=True)
    open_interest_limit = amount_field(null=True, blank=True)
    imf_base = amount_field(null=True, blank=True)
    imf_factor = amount_field(null=True, blank=True)
    mmf_base = amount_field(null=True, blank=True)
    mmf_factor = amount_field(null=True, blank=True)

    class Meta:
        ordering = ["symbol"]
        constraints = [
            models.CheckConstraint(condition=models.Q(tick_size__gt=0), name="market_tick_positive"),
            models.CheckConstraint(condition=models.Q(step_size__gt=0), name="market_step_positive"),
        ]

    def __str__(self) -> str:
        return self.symbol
