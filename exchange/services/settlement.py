"""Turn one batch of engine events into rows: orders, fills, postings, candles, outbox, results.

Spot settlement of a fill at price p for quantity q (quote = p x q):
  buyer:  locked quote -quote;  available base  +q - buyer fee   (fee in base)
  seller: locked base  -q;      available quote +quote - seller fee (fee in quote)
  house:  fees base +buyer fee; fees quote +seller fee
Fees are taken from what the trade pays, rounded up to the asset's precision (in the exchange's
favour, as documented in docs/ARCHITECTURE.md). An order's unspent hold goes back to available
when it ends.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_UP, Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from core.db_copy import copy_rows, update_from_rows
from core.money import quantise, render
from exchange.engine import events as ev
from exchange.engine.engine import MatchingEngine
from exchange.engine.spec import MarketSpec
from exchange.models import (
    AccountKind,
    CommandKind,
    EntryKind,
    Fill,
    LedgerAccount,
    Market,
    MarketCommand,
    MarketState,
    Order,
    OrderStatus,
    OutboxEvent,
    Side,
)
from exchange.services.fees import fee_rates_for_user
from exchange.services.ledger import ledger_account_get
from exchange.services.ledger_batch import PendingEntry, ledger_post_many
from exchange.services.outbox import outbox_notify

FINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.TRIGGER_FAILED}
)

# (owner id, kind, asset id) -> ledger account: accounts are never deleted, so a process may keep them.
_accounts: dict[tuple[int, str, int], LedgerAccount] = {}
_FEE_CACHE_SECONDS = 60.0
_fees: dict[tuple[int, str], tuple[float, Decimal, Decimal]] = {}


def _account(owner_id: int, kind: str, asset: Any) -> LedgerAccount:
    key = (owner_id, kind, asset.pk)
    account = _accounts.get(key)
    if account is None:
        account = _accounts[key] = ledger_account_get(owner_id=owner_id, kind=kind, asset=asset)
    return account


def _house(kind: str, asset: Any) -> LedgerAccount:
    key = (0, kind, asset.pk)
    account = _accounts.get(key)
    if account is None:
        account = _accounts[key] = ledger_account_get(owner_id=None, kind=kind, asset=asset)
    return account


def _rates(user_id: int, market_type: str) -> tuple[Decimal, Decimal]:
    """(maker, taker) rates; 30-day volume moves slowly, so a minute-old answer is good enough."""
    key = (user_id, market_type)
    cached = _fees.get(key)
    now = time.monotonic()
    if cached is None or now - cached[0] > _FEE_CACHE_SECONDS:
        maker, taker = fee_rates_for_user(user_id=user_id, market_type=market_type)
        cached = _fees[key] = (now, Decimal(maker), Decimal(taker))
    return cached[1], cached[2]


@dataclass
class OrderChange:
    status: str | None = None
    executed_lots: int | None = None
    executed_quote: int | None = None
    expiry_reason: str = ""
    applied: bool = False
    priority: int | None = None
    triggered: bool = False
    spent: Decimal = Decimal(0)


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


@dataclass
class OrderEvent:
    """One `account.orderUpdate` event, rendered in `finish` once the order rows are loaded.
    Amounts in engine units (lots, notional units, ticks) as the engine reported them."""

    order_id: int
    name: str
    status: str
    executed_lots: int
    executed_quote: int
    reason: str = ""
    # orderFill only: trade id, lots, price ticks, is maker, fee, fee asset symbol.
    fill: tuple[int, int, int, bool, Decimal, str] | None = None


# Balance buckets `account.balanceUpdate` carries (A, L, S), as GET /api/v1/capital shows them.
_BALANCE_KINDS = {AccountKind.AVAILABLE: "A", AccountKind.LOCKED: "L", AccountKind.STAKED: "S"}


@dataclass
class BatchWriter:
    market: Market
    spec: MarketSpec
    now: datetime = field(default_factory=timezone.now)
    changes: dict[int, OrderChange] = field(default_factory=lambda: defaultdict(OrderChange))
    fills: list[Fill] = field(default_factory=list)
    entries: list[PendingEntry] = field(default_factory=list)
    outbox: list[OutboxEvent] = field(default_factory=list)
    results: list[MarketCommand] = field(default_factory=list)
    candle: dict[datetime, list[Any]] = field(default_factory=dict)
    # Private events: order updates in engine order, and the (user id, asset id) pairs whose
    # balances the batch moved (settlement, releases, and holds taken when the order was placed).
    order_events: list[OrderEvent] = field(default_factory=list)
    touched: set[tuple[int, int]] = field(default_factory=set)
    # Per order accepted in this batch: (final status, executed lots) after its command, and what
    # its fills so far executed, so each taker fill carries its running status.
    accepted: dict[int, tuple[str, int]] = field(default_factory=dict)
    taker_running: dict[int, list[int]] = field(default_factory=dict)

    def record(self, command: MarketCommand, events: list[Any], update_id: int | None) -> None:
        asks: list[list[str]] = []
        bids: list[list[str]] = []
        cancelled: list[int] = []
        error: str | None = None
        for event in events:
            kind = type(event)
            if kind is ev.Fill:
                self._fill(command, event)
            elif kind is ev.LevelChanged:
                level = [
                    render(self.spec.ticks_to_price(event.price)),
                    render(self.spec.lots_to_quantity(event.total_lots)),
                ]
                (bids if event.side == Side.BID else asks).append(level)
            elif kind is ev.OrderAccepted:
                change = self.changes[event.order_id]
                change.status, change.applied = str(event.status), True
                change.executed_lots, change.executed_quote = event.executed_lots, event.executed_quote
                if event.resting_lots and change.priority is None:
                    change.priority = command.sequence
                self.accepted[event.order_id] = (str(event.status), event.executed_lots)
                self.taker_running[event.order_id] = [0, 0]
                self.order_events.append(OrderEvent(event.order_id, "orderAccepted", OrderStatus.NEW, 0, 0))
            elif kind is ev.OrderCancelled or kind is ev.OrderExpired:
                change = self.changes[event.order_id]
                change.status = str(event.status)
                change.executed_lots, change.executed_quote = event.executed_lots, event.executed_quote
                if kind is ev.OrderExpired:
                    change.expiry_reason = str(event.reason)
                    self.order_events.append(
                        OrderEvent(
                            event.order_id,
                            "orderExpired",
                            OrderStatus.EXPIRED,
                            event.executed_lots,
                            event.executed_quote,
                            reason=str(event.reason),
                        )
                    )
                else:
                    cancelled.append(event.order_id)
                    self.order_events.append(
                        OrderEvent(
                            event.order_id,
                            "orderCancelled",
                            OrderStatus.CANCELLED,
                            event.executed_lots,
                            event.executed_quote,
                        )
                    )
            elif kind is ev.TriggerPlaced:
                change = self.changes[event.order_id]
                change.status, change.applied = OrderStatus.TRIGGER_PENDING, True
                self.order_events.append(
                    OrderEvent(event.order_id, "triggerPlaced", OrderStatus.TRIGGER_PENDING, 0, 0)
                )
            elif kind is ev.OrderTriggered:
                change = self.changes[event.order_id]
                change.triggered, change.priority = True, command.sequence
            elif kind is ev.CancelRejected:
                error = "RESOURCE_NOT_FOUND"
            elif kind is ev.OrderRejected:
                change = self.changes[event.order_id]
                change.status, change.applied, change.expiry_reason = (
                    OrderStatus.EXPIRED,
                    True,
                    str(event.reason),
                )
                error = "INVALID_ORDER"
        if command.kind == CommandKind.CANCEL_ALL or error is not None:
            command.result = {"cancelled": cancelled} if error is None else {"error": error}
            self.results.append(command)
        if update_id is not None and (asks or bids):
            micros = _micros(self.now)
            self.outbox.append(
                OutboxEvent(
                    stream=f"depth.{self.market.symbol}",
                    payload={
                        "e": "depth",
                        "E": micros,
                        "T": micros,
                        "s": self.market.symbol,
                        "U": update_id,
                        "u": update_id,
                        "a": asks,
                        "b": bids,
                    },
                    created_at=self.now,
                )
            )

    def _fill(self, command: MarketCommand, fill: ev.Fill) -> None:
        market, spec = self.market, self.spec
        price = spec.ticks_to_price(fill.price)
        quantity = spec.lots_to_quantity(fill.lots)
        quote = spec.units_to_quote(fill.price * fill.lots)
        taker_is_buyer = fill.taker_side == Side.BID
        buyer_id = fill.taker_account_id if taker_is_buyer else fill.maker_account_id
        seller_id = fill.maker_account_id if taker_is_buyer else fill.taker_account_id
        maker_rate, _ = _rates(fill.maker_account_id, market.market_type)
        _, taker_rate = _rates(fill.taker_account_id, market.market_type)
        buyer_rate, seller_rate = (taker_rate, maker_rate) if taker_is_buyer else (maker_rate, taker_rate)
        buyer_fee = quantise(quantity * buyer_rate, market.base.step, ROUND_UP) if buyer_rate else Decimal(0)
        seller_fee = quantise(quote * seller_rate, market.quote.step, ROUND_UP) if seller_rate else Decimal(0)
        entry = PendingEntry(kind=EntryKind.TRADE, reference=f"trade:{market.symbol}:{fill.trade_id}")
        base, quote_asset = market.base, market.quote
        entry.add(_account(buyer_id, AccountKind.LOCKED, quote_asset), -quote)
        entry.add(_account(seller_id, AccountKind.AVAILABLE, quote_asset), quote - seller_fee)
        entry.add(_house(AccountKind.FEES, quote_asset), seller_fee)
        entry.add(_account(seller_id, AccountKind.LOCKED, base), -quantity)
        entry.add(_account(buyer_id, AccountKind.AVAILABLE, base), quantity - buyer_fee)
        entry.add(_house(AccountKind.FEES, base), buyer_fee)
        self.entries.append(entry)
        buyer_order, seller_order = (
            (fill.taker_order_id, fill.maker_order_id)
            if taker_is_buyer
            else (fill.maker_order_id, fill.taker_order_id)
        )
        self.changes[buyer_order].spent += quote
        self.changes[seller_order].spent += quantity
        maker = self.changes[fill.maker_order_id]
        maker.status = str(fill.maker_status)
        maker.executed_lots, maker.executed_quote = fill.maker_executed_lots, fill.maker_executed_quote
        maker_fee, taker_fee = (seller_fee, buyer_fee) if taker_is_buyer else (buyer_fee, seller_fee)
        self._fill_events(fill, maker_fee, taker_fee)
        self.touched.update(
            (user_id, asset.pk) for user_id in (buyer_id, seller_id) for asset in (base, quote_asset)
        )
        self.fills.append(
            Fill(
                market=market,
                trade_id=fill.trade_id,
                price=price,
                quantity=quantity,
                quote_quantity=quote,
                taker_side=str(fill.taker_side),
                maker_order_id=fill.maker_order_id,
                taker_order_id=fill.taker_order_id,
                maker_user_id=fill.maker_account_id,
                taker_user_id=fill.taker_account_id,
                maker_fee=maker_fee,
                maker_fee_asset=quote_asset if taker_is_buyer else base,
                taker_fee=taker_fee,
                taker_fee_asset=base if taker_is_buyer else quote_asset,
                sequence=command.sequence,
                created_at=self.now,
            )
        )
        minute = self.now.replace(second=0, microsecond=0)
        candle = self.candle.get(minute)
        if candle is None:
            self.candle[minute] = [price, price, price, price, quantity, quote, 1]
        else:
            candle[1] = max(candle[1], price)
            candle[2] = min(candle[2], price)
            candle[3] = price
            candle[4] += quantity
            candle[5] += quote
            candle[6] += 1
        micros = _micros(self.now)
        self.outbox.append(
            OutboxEvent(
                stream=f"trade.{market.symbol}",
                payload={
                    "e": "trade",
                    "E": micros,
                    "T": micros,
                    "s": market.symbol,
                    "p": render(price),
                    "q": render(quantity),
                    "b": str(fill.buyer_order_id),
                    "a": str(fill.seller_order_id),
                    "t": fill.trade_id,
                    "m": fill.maker_is_buyer,
                },
                created_at=self.now,
            )
        )

    def _fill_events(self, fill: ev.Fill, maker_fee: Decimal, taker_fee: Decimal) -> None:
        """orderFill for both sides. The maker's state comes with the fill; the taker's is its
        running total, Filled on the fill that completes what its command executed."""
        base, quote = self.market.base.symbol, self.market.quote.symbol
        maker_fee_asset, taker_fee_asset = (quote, base) if fill.taker_side == Side.BID else (base, quote)
        self.order_events.append(
            OrderEvent(
                fill.maker_order_id,
                "orderFill",
                str(fill.maker_status),
                fill.maker_executed_lots,
                fill.maker_executed_quote,
                fill=(fill.trade_id, fill.lots, fill.price, True, maker_fee, maker_fee_asset),
            )
        )
        running = self.taker_running.setdefault(fill.taker_order_id, [0, 0])
        running[0] += fill.lots
        running[1] += fill.price * fill.lots
        final_status, final_lots = self.accepted.get(fill.taker_order_id, ("", -1))
        status = (
            OrderStatus.FILLED
            if final_status == OrderStatus.FILLED and running[0] == final_lots
            else OrderStatus.PARTIALLY_FILLED
        )
        self.order_events.append(
            OrderEvent(
                fill.taker_order_id,
                "orderFill",
                status,
                running[0],
                running[1],
                fill=(fill.trade_id, fill.lots, fill.price, False, taker_fee, taker_fee_asset),
            )
        )

    def _private_outbox(self, orders: dict[int, Order]) -> None:
        """account.orderUpdate and account.balanceUpdate rows (§8.4), after the ledger moved: the
        balances are read in this transaction, so they are the absolute values this batch left."""
        market, spec, micros = self.market, self.spec, _micros(self.now)
        for event in self.order_events:
            order = orders[event.order_id]
            if event.name in ("orderAccepted", "triggerPlaced"):
                self.touched.add((order.user_id, order.locked_asset_id))
            self.outbox.append(
                OutboxEvent(
                    stream="account.orderUpdate",
                    user_id=order.user_id,
                    payload=_order_payload(order, event, spec, market.symbol, micros),
                    created_at=self.now,
                )
            )
        if not self.touched:
            return
        symbols = {market.base_id: market.base.symbol, market.quote_id: market.quote.symbol}
        balances: dict[tuple[int, int], dict[str, str]] = {
            pair: {"A": "0", "L": "0", "S": "0"} for pair in self.touched if pair[1] in symbols
        }
        rows = LedgerAccount.objects.filter(
            owner_id__in={user_id for user_id, _ in balances},
            asset_id__in={asset_id for _, asset_id in balances},
            kind__in=list(_BALANCE_KINDS),
        ).values_list("owner_id", "asset_id", "kind", "balance")
        for owner_id, asset_id, kind, balance in rows:
            bucket = balances.get((owner_id, asset_id))
            if bucket is not None:
                bucket[_BALANCE_KINDS[kind]] = render(balance)
        for (user_id, asset_id), bucket in sorted(balances.items()):
            self.outbox.append(
                OutboxEvent(
                    stream="account.balanceUpdate",
                    user_id=user_id,
                    payload={"e": "balanceUpdate", "E": micros, "a": symbols[asset_id], **bucket},
                    created_at=self.now,
                )
            )

    def finish(self, engine: MatchingEngine) -> None:
        orders = (
            Order.objects.select_for_update(no_key=True).in_bulk(list(self.changes)) if self.changes else {}
        )
        releases = PendingEntry(
            kind=EntryKind.RELEASE, reference=f"release:{self.market.symbol}:{engine.sequence}"
        )
        fields = {"status", "executed_quantity", "executed_quote_quantity", "locked_amount", "updated_at"}
        spec = self.spec
        for order_id, change in self.changes.items():
            order = orders[order_id]
            if change.status is not None:
                order.status = change.status
            if change.executed_lots is not None:
                order.executed_quantity = spec.lots_to_quantity(change.executed_lots)
                order.executed_quote_quantity = spec.units_to_quote(change.executed_quote or 0)
            if change.expiry_reason:
                order.expiry_reason = change.expiry_reason
                fields.add("expiry_reason")
            if change.applied:
                order.is_applied = True
                fields.add("is_applied")
            if change.priority is not None and (order.priority is None or change.triggered):
                order.priority = change.priority
                fields.add("priority")
            if change.triggered:
                order.triggered_at = self.now
                fields.add("triggered_at")
            order.locked_amount -= change.spent
            if order.status in FINAL_STATUSES and order.locked_amount:
                asset = (
                    self.market.quote if order.locked_asset_id == self.market.quote_id else self.market.base
                )
                releases.add(_account(order.user_id, AccountKind.LOCKED, asset), -order.locked_amount)
                releases.add(_account(order.user_id, AccountKind.AVAILABLE, asset), order.locked_amount)
                self.touched.add((order.user_id, asset.pk))
                order.locked_amount = Decimal(0)
            order.updated_at = self.now
        if orders:
            _orders_write(orders.values())
        ledger_post_many([*self.entries, releases])
        if self.order_events or self.touched:
            self._private_outbox(orders)
        if self.fills:
            _fills_write(self.fills)
            self._upsert_candles()
        if self.outbox:
            copy_rows(
                "exchange_outboxevent",
                ("stream", "user_id", "payload", "created_at"),
                (
                    (e.stream, e.user_id, json.dumps(e.payload, separators=(",", ":")), e.created_at)
                    for e in self.outbox
                ),
            )
            outbox_notify()
        if self.results:
            MarketCommand.objects.bulk_update(self.results, ["result"])
        MarketState.objects.filter(pk=self.market.pk).update(
            last_applied_sequence=engine.sequence,
            last_update_id=engine.update_id,
            last_trade_id=engine.trade_id,
            last_price=spec.ticks_to_price(engine.last_price) if engine.last_price is not None else None,
        )

    def _upsert_candles(self) -> None:  # one statement per minute touched: usually one
        with connection.cursor() as cursor:
            for start, (open_, high, low, close, volume, quote_volume, trades) in self.candle.items():
                cursor.execute(
                    """INSERT INTO exchange_candle (market_id, start, open, high, low, close, volume, quote_volume, trades)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                       ON CONFLICT (market_id, start) DO UPDATE SET
                         high = GREATEST(exchange_candle.high, EXCLUDED.high),
                         low = LEAST(exchange_candle.low, EXCLUDED.low),
                         close = EXCLUDED.close,
                         volume = exchange_candle.volume + EXCLUDED.volume,
                         quote_volume = exchange_candle.quote_volume + EXCLUDED.quote_volume,
                         trades = exchange_candle.trades + EXCLUDED.trades""",
                    [self.market.pk, start, open_, high, low, close, volume, quote_volume, trades],
                )


def _order_payload(
    order: Order, event: OrderEvent, spec: MarketSpec, symbol: str, micros: int
) -> dict[str, Any]:
    """An `account.orderUpdate` event (§8.4); optional fields only when the order has them."""
    payload: dict[str, Any] = {
        "e": event.name,
        "E": micros,
        "T": micros,
        "s": symbol,
        "i": str(order.pk),
        "S": order.side,
        "o": order.order_type.upper(),
        "f": order.time_in_force,
        "X": event.status,
        "z": render(spec.lots_to_quantity(event.executed_lots)),
        "Z": render(spec.units_to_quote(event.executed_quote)),
        "V": order.self_trade_prevention,
        "O": "USER",
        "r": order.reduce_only,
    }
    optional = {
        "c": order.client_id,
        "q": order.quantity,
        "Q": order.quote_quantity,
        "p": order.price,
        "P": order.trigger_price,
        "B": order.trigger_by or None,
        "Y": order.trigger_quantity,
        "R": event.reason or None,
    }
    for key, value in optional.items():
        if value is not None:
            payload[key] = render(value) if isinstance(value, Decimal) else value
    if order.post_only:
        payload["y"] = True
    if event.fill is not None:
        trade_id, lots, price, is_maker, fee, fee_asset = event.fill
        payload.update(
            {
                "t": trade_id,
                "l": render(spec.lots_to_quantity(lots)),
                "L": render(spec.ticks_to_price(price)),
                "m": is_maker,
                "n": render(fee),
                "N": fee_asset,
            }
        )
    return payload


ORDER_COLUMNS = (
    ("status", "varchar"),
    ("executed_quantity", "numeric"),
    ("executed_quote_quantity", "numeric"),
    ("locked_amount", "numeric"),
    ("expiry_reason", "varchar"),
    ("is_applied", "boolean"),
    ("priority", "bigint"),
    ("triggered_at", "timestamptz"),
    ("updated_at", "timestamptz"),
)


def _orders_write(orders: Any) -> None:
    update_from_rows(
        "exchange_order",
        "id",
        ORDER_COLUMNS,
        (
            (
                o.pk,
                o.status,
                o.executed_quantity,
                o.executed_quote_quantity,
                o.locked_amount,
                o.expiry_reason,
                o.is_applied,
                o.priority,
                o.triggered_at,
                o.updated_at,
            )
            for o in orders
        ),
    )


FILL_COLUMNS = (
    "market_id",
    "trade_id",
    "price",
    "quantity",
    "quote_quantity",
    "taker_side",
    "maker_order_id",
    "taker_order_id",
    "maker_user_id",
    "taker_user_id",
    "maker_fee",
    "maker_fee_asset_id",
    "taker_fee",
    "taker_fee_asset_id",
    "sequence",
    "created_at",
)


def _fills_write(fills: list[Fill]) -> None:
    copy_rows("exchange_fill", FILL_COLUMNS, ([getattr(f, c) for c in FILL_COLUMNS] for f in fills))
