"""Orders, the per-market command log the sequencer drains, fills, and the outbox.

Flow (docs/ARCHITECTURE.md): the API reserves funds, inserts the `Order` and a `MarketCommand`
with the market's next sequence number in one transaction; the market's single worker applies
commands in sequence order and persists fills, order states, postings, outbox events and
`MarketState.last_applied_sequence` in one transaction per batch.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from exchange.models.assets import Asset
from exchange.models.fields import amount_field
from exchange.models.markets import Market


class Side(models.TextChoices):
    BID = "Bid", "Bid (buy)"
    ASK = "Ask", "Ask (sell)"


class OrderType(models.TextChoices):
    LIMIT = "Limit", "Limit"
    MARKET = "Market", "Market"


class TimeInForce(models.TextChoices):
    GTC = "GTC", "Good till cancelled"
    IOC = "IOC", "Immediate or cancel"
    FOK = "FOK", "Fill or kill"


class SelfTradePrevention(models.TextChoices):
    REJECT_TAKER = "RejectTaker", "Reject taker"
    REJECT_MAKER = "RejectMaker", "Reject maker"
    REJECT_BOTH = "RejectBoth", "Reject both"
    ALLOW = "Allow", "Allow"


class OrderStatus(models.TextChoices):
    NEW = "New", "New"
    PARTIALLY_FILLED = "PartiallyFilled", "Partially filled"
    FILLED = "Filled", "Filled"
    CANCELLED = "Cancelled", "Cancelled"
    EXPIRED = "Expired", "Expired"
    TRIGGER_PENDING = "TriggerPending", "Trigger pending"
    TRIGGER_FAILED = "TriggerFailed", "Trigger failed"


OPEN_STATUSES = (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.TRIGGER_PENDING)


class Order(models.Model):
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="orders")
    # No single-column index: (user, market, -id) below serves lookups by user.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    client_id = models.PositiveBigIntegerField(null=True, blank=True)
    side = models.CharField(max_length=3, choices=Side.choices)
    order_type = models.CharField(max_length=8, choices=OrderType.choices)
    time_in_force = models.CharField(max_length=3, choices=TimeInForce.choices, default=TimeInForce.GTC)
    post_only = models.BooleanField(default=False)
    reduce_only = models.BooleanField(default=False)
    self_trade_prevention = models.CharField(
        max_length=16, choices=SelfTradePrevention.choices, default=SelfTradePrevention.REJECT_TAKER
    )
    price = amount_field(null=True, blank=True)
    quantity = amount_field(null=True, blank=True)
    quote_quantity = amount_field(null=True, blank=True)
    trigger_price = amount_field(null=True, blank=True)
    trigger_quantity = amount_field(null=True, blank=True)
    trigger_by = models.CharField(max_length=16, blank=True)
    status = models.CharField(max_length=16, choices=OrderStatus.choices, default=OrderStatus.NEW)
    expiry_reason = models.CharField(max_length=32, blank=True)
    executed_quantity = amount_field(default=0)
    executed_quote_quantity = amount_field(default=0)
    # What the order still holds in the user's locked bucket; released when it ends.
    locked_asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+", db_index=False)
    locked_amount = amount_field(default=0)
    # False until the market's worker has applied the order's place command.
    is_applied = models.BooleanField(default=False)
    sequence = models.PositiveBigIntegerField()
    # Time priority on the book: the sequence of the command at which it started resting (its own
    # place command, or the one whose trade fired its trigger). Rebuilds sort by it.
    priority = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    triggered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["user", "market", "-id"]),
            models.Index(
                fields=["market", "status"],
                name="order_open_idx",
                condition=models.Q(status__in=OPEN_STATUSES),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(locked_amount__gte=0), name="order_lock_non_negative")
        ]

    def __str__(self) -> str:
        return f"order {self.pk} {self.side} {self.market_id}"


class CommandKind(models.TextChoices):
    PLACE = "place", "Place"
    CANCEL = "cancel", "Cancel"
    CANCEL_ALL = "cancel_all", "Cancel all"


class MarketCommand(models.Model):
    """The durable command log: one row per accepted command, numbered per market without gaps."""

    # (market, sequence) is unique, so that index serves lookups by market.
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="commands", db_index=False)
    sequence = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=16, choices=CommandKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="commands")
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The outcome as the worker recorded it (status, error), for the waiting REST call.
    result = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["market", "sequence"]
        constraints = [models.UniqueConstraint(fields=["market", "sequence"], name="market_command_sequence")]

    def __str__(self) -> str:
        return f"{self.market_id}#{self.sequence} {self.kind}"


class MarketState(models.Model):
    """Per-market counters. `next_sequence` is taken under a row lock by the API, so commands commit
    in sequence order and the worker never meets a gap that is later filled."""

    market = models.OneToOneField(Market, on_delete=models.PROTECT, primary_key=True, related_name="state")
    next_sequence = models.PositiveBigIntegerField(default=1)
    last_applied_sequence = models.PositiveBigIntegerField(default=0)
    # Depth feed counter shared by REST lastUpdateId and WS U/u.
    last_update_id = models.PositiveBigIntegerField(default=0)
    last_trade_id = models.PositiveBigIntegerField(default=0)
    last_price = amount_field(null=True, blank=True)
    # Matching lease: one worker per market (see exchange/services/lease.py).
    lease_owner = models.CharField(max_length=128, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"state of {self.market_id}"


class Fill(models.Model):
    """One trade: a maker and a taker order. Each side is a user's fill in /wapi/v1/history/fills."""

    # Each index costs the matching worker WAL and time on every fill (docs/PERFORMANCE.md), so
    # only the ones a reader uses: (market, trade_id) unique also serves newest-first and by-market
    # scans, (maker_user, -id) and (taker_user, -id) serve lookups by user; nothing reads by fee asset.
    # Its foreign keys are checked per statement by triggers (db_constraint=False here; migration
    # exchange/0006): Django's per-row deferred checks were most of the database's work per batch.
    market = models.ForeignKey(
        Market, on_delete=models.PROTECT, db_constraint=False, related_name="fills", db_index=False
    )
    trade_id = models.PositiveBigIntegerField()
    price = amount_field()
    quantity = amount_field()
    quote_quantity = amount_field()
    taker_side = models.CharField(max_length=3, choices=Side.choices)
    maker_order = models.ForeignKey(
        Order, on_delete=models.PROTECT, db_constraint=False, related_name="maker_fills"
    )
    taker_order = models.ForeignKey(
        Order, on_delete=models.PROTECT, db_constraint=False, related_name="taker_fills"
    )
    maker_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        db_constraint=False,
        related_name="+",
        db_index=False,
    )
    taker_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        db_constraint=False,
        related_name="+",
        db_index=False,
    )
    maker_fee = amount_field()
    maker_fee_asset = models.ForeignKey(
        Asset, on_delete=models.PROTECT, db_constraint=False, related_name="+", db_index=False
    )
    taker_fee = amount_field()
    taker_fee_asset = models.ForeignKey(
        Asset, on_delete=models.PROTECT, db_constraint=False, related_name="+", db_index=False
    )
    sequence = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["market", "trade_id"], name="fill_trade_id_unique")]
        indexes = [
            models.Index(fields=["market", "created_at"]),
            models.Index(fields=["maker_user", "-id"]),
            models.Index(fields=["taker_user", "-id"]),
        ]

    def __str__(self) -> str:
        return f"trade {self.market_id}/{self.trade_id}"


class Candle(models.Model):
    """One-minute candles, upserted by the market worker in the same transaction as the fills.
    Longer intervals are aggregated from these by SQL; 1s candles come from fills directly."""

    market = models.ForeignKey(Market, on_delete=models.CASCADE, related_name="candles")
    start = models.DateTimeField()
    open = amount_field()
    high = amount_field()
    low = amount_field()
    close = amount_field()
    volume = amount_field()
    quote_volume = amount_field()
    trades = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["market", "start"], name="candle_unique_minute")]

    def __str__(self) -> str:
        return f"{self.market_id} {self.start:%Y-%m-%d %H:%M}"


class OutboxEvent(models.Model):
    """Events written in the same transaction as the state they describe, published after commit."""

    stream = models.CharField(max_length=96)
    # Not indexed: the publisher reads by id; published rows are pruned after a day.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["id"], name="outbox_unpublished_idx", condition=models.Q(published_at=None))
        ]

    def __str__(self) -> str:
        return f"{self.stream} #{self.pk}"


class FeeTier(models.Model):
    """Maker/taker rates by 30-day traded volume (in the quote asset, USDC), editable in the admin."""

    name = models.CharField(max_length=32, unique=True)
    min_volume_30d = amount_field(unique=True)
    spot_maker_rate = models.DecimalField(max_digits=10, decimal_places=6)
    spot_taker_rate = models.DecimalField(max_digits=10, decimal_places=6)
    futures_maker_rate = models.DecimalField(max_digits=10, decimal_places=6)
    futures_taker_rate = models.DecimalField(max_digits=10, decimal_places=6)

    class Meta:
        ordering = ["min_volume_30d"]

    def __str__(self) -> str:
        return self.name
