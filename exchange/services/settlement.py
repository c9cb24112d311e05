"""Turn one batch of engine events into rows: orders, fills, postings, candles, outbox, results.

Spot settlement of a fill at price p for quantity q (quote = p x q):
  buyer:  locked quote -quote;  available base  +q - buyer fee   (fee in base)
  seller: locked base  -q;      available quote +quote - seller fee (fee in quote)
  house:  fees base +buyer fee; fees quote +seller fee
Fees are taken from what the trade pays, rounded up to the asset's precision (in the exchange's
favour, as documented in docs/ARCHITECTURE.md). An order's unspent hold goes back to available
when it ends.

Speed (docs/PERFORMANCE.md, sequencer): a batch is a few statements whatever its size, and no
Django model instance is built on this path. Rows are plain tuples, inserts go through COPY (a
small batch's through INSERTs from arrays), the order rows through one `UPDATE ... FROM
unnest(...)`, and ledger account ids are kept per process. The statements are pipelined (psycopg's
pipeline mode: sent together, answered together), so a small batch costs three round trips, its
COMMIT included, and holds the ledger rows a placement needs for the last two (`write_shared_rows`).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_UP, Decimal
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection
from django.utils import timezone

from core.api_prepared import prepared_cursor
from core.db_copy import array_literal, copy_text
from core.money import quantise
from exchange.engine import events as ev
from exchange.engine.engine import MatchingEngine
from exchange.engine.spec import MarketSpec
from exchange.models import AccountKind, Asset, CommandKind, EntryKind, Market, OrderStatus, Side
from exchange.services.fees import fee_rates_for_user
from exchange.services.ledger_batch import (
    ENTRIES_INSERT_SQL,
    LEDGER_LOCK_SQL,
    LEDGER_MOVE_SQL,
    PendingEntry,
    ledger_account_id,
    ledger_balances_check,
    ledger_deltas,
    ledger_entries_insert,
    ledger_entries_params,
    ledger_lock_params,
    ledger_move_params,
)
from exchange.services.outbox import NOTIFY_CHANNEL
from exchange.services.outbox_batch import BATCH_STREAM, DEPTH, TRADE, BatchEvents

FINAL_STATUSES = frozenset(
    {
        OrderStatus.FILLED.value,
        OrderStatus.CANCELLED.value,
        OrderStatus.EXPIRED.value,
        OrderStatus.TRIGGER_FAILED.value,
    }
)
_AVAILABLE = AccountKind.AVAILABLE.value
_LOCKED = AccountKind.LOCKED.value
_FEES = AccountKind.FEES.value
_STAKED = AccountKind.STAKED.value
_BID = Side.BID.value
_TRADE = EntryKind.TRADE.value
_ZERO = Decimal(0)
_NEW = OrderStatus.NEW.value
_EXPIRED = OrderStatus.EXPIRED.value
_CANCELLED = OrderStatus.CANCELLED.value
_TRIGGER_PENDING = OrderStatus.TRIGGER_PENDING.value
_FILLED = OrderStatus.FILLED.value
_PARTIALLY_FILLED = OrderStatus.PARTIALLY_FILLED.value
_dumps = json.JSONEncoder(separators=(",", ":")).encode

_FEE_CACHE_SECONDS = 60.0
_fees: dict[tuple[int, str], tuple[float, Decimal, Decimal]] = {}


def _account(owner_id: int, kind: str, asset: Asset) -> int:
    """The account id of (owner, kind, asset); owner 0 is the house."""
    return ledger_account_id(owner_id=owner_id or None, kind=kind, asset=asset)


def _rates(user_id: int, market_type: str) -> tuple[Decimal, Decimal]:
    """(maker, taker) rates; 30-day volume moves slowly, so a minute-old answer is good enough."""
    key = (user_id, market_type)
    cached = _fees.get(key)
    now = time.monotonic()
    if cached is None or now - cached[0] > _FEE_CACHE_SECONDS:
        maker, taker = fee_rates_for_user(user_id=user_id, market_type=market_type)
        cached = _fees[key] = (now, Decimal(maker), Decimal(taker))
    return cached[1], cached[2]


@dataclass(slots=True)
class OrderChange:
    status: str | None = None
    executed_lots: int | None = None
    executed_quote: int | None = None
    expiry_reason: str = ""
    applied: bool = False
    priority: int | None = None
    triggered: bool = False
    spent: Decimal = field(default_factory=Decimal)


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _exponent(step: Decimal) -> Decimal | None:
    """`step` itself if it is written as a power of ten (1, 0.01, 1E-8...: one digit, a one),
    so quantizing to it rounds to its multiples; else None (0.010, 0.5, 25)."""
    sign, digits, _ = step.as_tuple()
    return step if not sign and digits == (1,) and step.is_finite() else None


class OrderRow(NamedTuple):
    """The columns of an order the batch needs, read (and locked) in `finish`."""

    id: int
    user_id: int
    status: str
    locked_amount: Decimal
    locked_asset_id: int
    priority: int | None


_ORDERS_LOCK_SQL = f"""SELECT {", ".join(OrderRow._fields)} FROM exchange_order
 WHERE id = ANY(%s::bigint[]) ORDER BY id FOR NO KEY UPDATE"""  # noqa: S608  (column names are constants)

# Unchanged columns come as NULL and keep their value; `is_applied` only ever turns on. The
# redundant `t.id = ANY(...)` lets the planner fetch the rows by primary key instead of hashing
# the whole (ever growing) table against the batch.
_ORDERS_UPDATE_SQL = """UPDATE exchange_order AS t SET
   status = s.status,
   executed_quantity = COALESCE(s.executed_quantity, t.executed_quantity),
   executed_quote_quantity = COALESCE(s.executed_quote_quantity, t.executed_quote_quantity),
   locked_amount = s.locked_amount,
   expiry_reason = COALESCE(s.expiry_reason, t.expiry_reason),
   is_applied = t.is_applied OR s.is_applied,
   priority = s.priority,
   triggered_at = CASE WHEN s.triggered THEN %s ELSE t.triggered_at END,
   updated_at = %s
 FROM unnest(%s::bigint[], %s::varchar[], %s::numeric[], %s::numeric[], %s::numeric[], %s::varchar[],
             %s::boolean[], %s::bigint[], %s::boolean[])
   AS s(id, status, executed_quantity, executed_quote_quantity, locked_amount, expiry_reason,
        is_applied, priority, triggered)
 WHERE t.id = s.id AND t.id = ANY(%s::bigint[])"""


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
OUTBOX_COLUMNS = ("stream", "user_id", "payload", "created_at")

# Up to this many fills a batch writes its own rows (fills, journal entries and lines) with
# pipelined INSERTs, beyond it with COPY: COPY costs round trips of its own (the REST path's
# batches are a few commands), an INSERT from arrays costs more per row than COPY's text. The
# same bound, in lines, for the release entry.
SMALL_OWN_ROWS = 100

_FILLS_INSERT_SQL = f"""INSERT INTO exchange_fill ({", ".join(FILL_COLUMNS)})
SELECT %s::bigint, f.trade_id, f.price, f.quantity, f.quote_quantity, f.taker_side, f.maker_order_id,
       f.taker_order_id, f.maker_user_id, f.taker_user_id, f.maker_fee, f.maker_fee_asset_id, f.taker_fee,
       f.taker_fee_asset_id, f.sequence, %s::timestamptz
  FROM unnest(%s::bigint[], %s::numeric[], %s::numeric[], %s::numeric[], %s::varchar[], %s::bigint[],
              %s::bigint[], %s::bigint[], %s::bigint[], %s::numeric[], %s::bigint[], %s::numeric[],
              %s::bigint[], %s::bigint[])
       WITH ORDINALITY AS f(trade_id, price, quantity, quote_quantity, taker_side, maker_order_id,
                            taker_order_id, maker_user_id, taker_user_id, maker_fee, maker_fee_asset_id,
                            taker_fee, taker_fee_asset_id, sequence, n)
 ORDER BY f.n"""  # noqa: S608  (column names are constants)


class BatchEnd(NamedTuple):
    """The engine's counters once a batch is matched, taken then: with pipelining the engine is
    already matching the next batch while this one is written."""

    previous_sequence: int
    sequence: int
    update_id: int
    trade_id: int
    last_price: int | None

    @classmethod
    def of(cls, engine: MatchingEngine, *, previous_sequence: int) -> BatchEnd:
        return cls(previous_sequence, engine.sequence, engine.update_id, engine.trade_id, engine.last_price)


class BatchConflict(RuntimeError):
    """The market's last applied sequence is not the one the batch was matched after: another
    worker applied it (a lost lease), so this batch must not be written."""


@dataclass
class BatchWriter:
    market: Market
    spec: MarketSpec
    now: datetime = field(default_factory=timezone.now)
    changes: dict[int, OrderChange] = field(default_factory=lambda: defaultdict(OrderChange))
    # Rows in FILL_COLUMNS order.
    fills: list[tuple[Any, ...]] = field(default_factory=list)
    entries: list[PendingEntry] = field(default_factory=list)
    # (command sequence, result)
    results: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    candle: dict[datetime, list[Any]] = field(default_factory=dict)
    # The stream events (exchange/services/outbox_batch.py), and the (user id, asset id) pairs
    # whose balances the batch moved (settlement, releases, and holds taken when orders were placed).
    events: BatchEvents = field(init=False)
    touched: set[tuple[int, int]] = field(default_factory=set)
    # Per order accepted in this batch: (final status, executed lots) after its command, and what
    # its fills so far executed, so each taker fill carries its running status.
    accepted: dict[int, tuple[str, int]] = field(default_factory=dict)
    taker_running: dict[int, list[int]] = field(default_factory=dict)
    micros: int = 0
    # Per owner for this batch: (locked quote, available quote, locked base, available base)
    # account ids, or for the house (0) its (fees quote, fees base); and (maker, taker) rates.
    account_ids: dict[int, tuple[int, ...]] = field(default_factory=dict)
    rates: dict[int, tuple[Decimal, Decimal]] = field(default_factory=dict)

    # Per batch, what every fill needs from the market (read once: a Django relation or
    # property costs a call each time), and each distinct price and size as a Decimal.
    base: Asset = field(init=False)
    quote: Asset = field(init=False)
    base_step: Decimal = field(init=False)
    quote_step: Decimal = field(init=False)
    trade_reference: str = field(init=False)
    prices: dict[int, Decimal] = field(default_factory=dict)
    quantities: dict[int, Decimal] = field(default_factory=dict)
    minute_candle: list[Any] | None = None
    # The assets' steps as quantize exponents when they are powers of ten (None otherwise).
    base_exponent: Decimal | None = field(init=False)
    quote_exponent: Decimal | None = field(init=False)

    def __post_init__(self) -> None:
        self.micros = _micros(self.now)
        self.events = BatchEvents(self.market.symbol, self.spec, self.micros)
        self.base, self.quote = self.market.base, self.market.quote
        self.base_step, self.quote_step = self.base.step, self.quote.step
        self.base_exponent, self.quote_exponent = _exponent(self.base_step), _exponent(self.quote_step)
        self.trade_reference = f"trade:{self.market.symbol}:"

    def _accounts_of(self, owner_id: int) -> tuple[int, ...]:
        ids = self.account_ids.get(owner_id)
        if ids is None:
            base, quote = self.market.base, self.market.quote
            if owner_id == 0:
                ids = (_account(0, _FEES, quote), _account(0, _FEES, base))
            else:
                ids = (
                    _account(owner_id, _LOCKED, quote),
                    _account(owner_id, _AVAILABLE, quote),
                    _account(owner_id, _LOCKED, base),
                    _account(owner_id, _AVAILABLE, base),
                )
            self.account_ids[owner_id] = ids
        return ids

    def _rates_of(self, user_id: int) -> tuple[Decimal, Decimal]:
        rates = self.rates.get(user_id)
        if rates is None:
            rates = self.rates[user_id] = _rates(user_id, self.market.market_type)
        return rates

    def record(self, sequence: int, kind: str, events: list[Any], update_id: int | None) -> None:
        """The rows one command's events call for; `kind` is its CommandKind."""
        asks: list[list[int]] = []
        bids: list[list[int]] = []
        cancelled: list[int] = []
        error: str | None = None
        changes, orders = self.changes, self.events.orders
        for event in events:
            event_type = type(event)
            if event_type is ev.Fill:
                self._fill(sequence, event)
            elif event_type is ev.LevelChanged:
                (bids if event.side == _BID else asks).append([event.price, event.total_lots])
            elif event_type is ev.OrderAccepted:
                change = changes[event.order_id]
                change.status, change.applied = str(event.status), True
                change.executed_lots, change.executed_quote = event.executed_lots, event.executed_quote
                if event.resting_lots and change.priority is None:
                    change.priority = sequence
                self.accepted[event.order_id] = (str(event.status), event.executed_lots)
                self.taker_running[event.order_id] = [0, 0]
                orders.append([event.order_id, "orderAccepted", _NEW, 0, 0, ""])
            elif event_type is ev.OrderCancelled or event_type is ev.OrderExpired:
                change = changes[event.order_id]
                change.status = str(event.status)
                change.executed_lots, change.executed_quote = event.executed_lots, event.executed_quote
                if event_type is ev.OrderExpired:
                    change.expiry_reason = str(event.reason)
                    orders.append(
                        [
                            event.order_id,
                            "orderExpired",
                            _EXPIRED,
                            event.executed_lots,
                            event.executed_quote,
                            change.expiry_reason,
                        ]
                    )
                else:
                    cancelled.append(event.order_id)
                    orders.append(
                        [
                            event.order_id,
                            "orderCancelled",
                            _CANCELLED,
                            event.executed_lots,
                            event.executed_quote,
                            "",
                        ]
                    )
            elif event_type is ev.TriggerPlaced:
                change = changes[event.order_id]
                change.status, change.applied = OrderStatus.TRIGGER_PENDING, True
                orders.append([event.order_id, "triggerPlaced", _TRIGGER_PENDING, 0, 0, ""])
            elif event_type is ev.OrderTriggered:
                change = changes[event.order_id]
                change.triggered, change.priority = True, sequence
            elif event_type is ev.CancelRejected:
                error = "RESOURCE_NOT_FOUND"
            elif event_type is ev.OrderRejected:
                change = changes[event.order_id]
                change.status, change.applied, change.expiry_reason = (
                    OrderStatus.EXPIRED,
                    True,
                    str(event.reason),
                )
                error = "INVALID_ORDER"
        if kind == CommandKind.CANCEL_ALL or error is not None:
            self.results.append((sequence, {"cancelled": cancelled} if error is None else {"error": error}))
        if update_id is not None and (asks or bids):
            self.events.public.append([DEPTH, update_id, asks, bids])

    def _fill(self, sequence: int, fill: ev.Fill) -> None:
        market, spec = self.market, self.spec
        price = self.prices.get(fill.price)
        if price is None:
            price = self.prices[fill.price] = spec.ticks_to_price(fill.price)
        quantity = self.quantities.get(fill.lots)
        if quantity is None:
            quantity = self.quantities[fill.lots] = spec.lots_to_quantity(fill.lots)
        quote = spec.units_to_quote(fill.price * fill.lots)
        taker_is_buyer = fill.taker_side == _BID
        maker_id, taker_id = fill.maker_account_id, fill.taker_account_id
        buyer_id, seller_id = (taker_id, maker_id) if taker_is_buyer else (maker_id, taker_id)
        maker_rate = self._rates_of(maker_id)[0]
        taker_rate = self._rates_of(taker_id)[1]
        buyer_rate, seller_rate = (taker_rate, maker_rate) if taker_is_buyer else (maker_rate, taker_rate)
        base, quote_asset = self.base, self.quote
        buyer_fee = (
            self._fee(quantity * buyer_rate, self.base_step, self.base_exponent) if buyer_rate else _ZERO
        )
        seller_fee = (
            self._fee(quote * seller_rate, self.quote_step, self.quote_exponent) if seller_rate else _ZERO
        )
        base_id, quote_id = base.pk, quote_asset.pk
        buyer, seller, house = self._accounts_of(buyer_id), self._accounts_of(seller_id), self._accounts_of(0)
        # The six lines (PendingEntry.add's rule inline: a zero amount makes no line).
        lines = [
            (buyer[0], quote_id, -quote),
            (seller[1], quote_id, quote - seller_fee),
            (house[0], quote_id, seller_fee),
            (seller[2], base_id, -quantity),
            (buyer[3], base_id, quantity - buyer_fee),
            (house[1], base_id, buyer_fee),
        ]
        if not (seller_fee and buyer_fee and lines[1][2] and lines[4][2]):
            lines = [line for line in lines if line[2]]
        self.entries.append(PendingEntry(_TRADE, self.trade_reference + str(fill.trade_id), lines))
        maker_order_id, taker_order_id = fill.maker_order_id, fill.taker_order_id
        buyer_order, seller_order = (
            (taker_order_id, maker_order_id) if taker_is_buyer else (maker_order_id, taker_order_id)
        )
        changes = self.changes
        changes[buyer_order].spent += quote
        changes[seller_order].spent += quantity
        maker = changes[maker_order_id]
        maker.status = str(fill.maker_status)
        maker.executed_lots, maker.executed_quote = fill.maker_executed_lots, fill.maker_executed_quote
        maker_fee, taker_fee = (seller_fee, buyer_fee) if taker_is_buyer else (buyer_fee, seller_fee)
        self._fill_events(fill, maker_fee, taker_fee)
        touched = self.touched
        touched.add((buyer_id, base_id))
        touched.add((buyer_id, quote_id))
        touched.add((seller_id, base_id))
        touched.add((seller_id, quote_id))
        self.fills.append(
            (
                market.pk,
                fill.trade_id,
                price,
                quantity,
                quote,
                str(fill.taker_side),
                maker_order_id,
                taker_order_id,
                maker_id,
                taker_id,
                maker_fee,
                quote_id if taker_is_buyer else base_id,
                taker_fee,
                base_id if taker_is_buyer else quote_id,
                sequence,
                self.now,
            )
        )
        candle = self.minute_candle
        if candle is None:
            # One batch, one moment (`now`), so one candle: hashing an aware datetime per fill
            # to find it cost more than the rest of the candle's bookkeeping.
            candle = self.minute_candle = [price, price, price, price, quantity, quote, 1]
            self.candle[self.now.replace(second=0, microsecond=0)] = candle
        else:
            if price > candle[1]:
                candle[1] = price
            if price < candle[2]:
                candle[2] = price
            candle[3] = price
            candle[4] += quantity
            candle[5] += quote
            candle[6] += 1
        self.events.public.append(
            [TRADE, fill.trade_id, fill.price, fill.lots, buyer_order, seller_order, not taker_is_buyer]
        )

    @staticmethod
    def _fee(amount: Decimal, step: Decimal, exponent: Decimal | None) -> Decimal:
        """`quantise(amount, step, ROUND_UP)`; for a power-of-ten step (every asset's so far) one
        quantize gives the same value and exponent, without quantise's division, multiplication
        and second quantize (tests/exchange/test_settlement_fast_paths.py)."""
        if exponent is None:
            return quantise(amount, step, ROUND_UP)
        return amount.quantize(exponent, rounding=ROUND_UP)

    def _fill_events(self, fill: ev.Fill, maker_fee: Decimal, taker_fee: Decimal) -> None:
        """orderFill for both sides. The maker's state comes with the fill; the taker's is its
        running total, Filled on the fill that completes what its command executed."""
        base, quote = self.base.symbol, self.quote.symbol
        maker_fee_asset, taker_fee_asset = (quote, base) if fill.taker_side == _BID else (base, quote)
        orders = self.events.orders
        orders.append(
            [
                fill.maker_order_id,
                "orderFill",
                str(fill.maker_status),
                fill.maker_executed_lots,
                fill.maker_executed_quote,
                "",
                fill.trade_id,
                fill.lots,
                fill.price,
                True,
                str(maker_fee),
                maker_fee_asset,
            ]
        )
        running = self.taker_running.setdefault(fill.taker_order_id, [0, 0])
        running[0] += fill.lots
        running[1] += fill.price * fill.lots
        final_status, final_lots = self.accepted.get(fill.taker_order_id, ("", -1))
        status = _FILLED if final_status == _FILLED and running[0] == final_lots else _PARTIALLY_FILLED
        orders.append(
            [
                fill.taker_order_id,
                "orderFill",
                status,
                running[0],
                running[1],
                "",
                fill.trade_id,
                fill.lots,
                fill.price,
                False,
                str(taker_fee),
                taker_fee_asset,
            ]
        )

    def _balance_pairs(self, orders: dict[int, OrderRow]) -> list[tuple[int, int]]:
        """The (user id, asset id) pairs, of this market's assets, whose account.balanceUpdate
        events (§8.4) the batch sends, by user then asset: what it moved, and the holds taken
        when its accepted orders were placed. The balances themselves are read by the outbox
        row's statement, after the ledger moved (_OUTBOX_SQL)."""
        market, touched = self.market, self.touched
        for event in self.events.orders:
            if event[1] in ("orderAccepted", "triggerPlaced"):
                order = orders[event[0]]
                touched.add((order.user_id, order.locked_asset_id))
        assets = (market.base_id, market.quote_id)
        return sorted(pair for pair in touched if pair[1] in assets)

    def _orders_params(self, orders: dict[int, OrderRow], releases: PendingEntry) -> list[Any]:
        """_ORDERS_UPDATE_SQL's parameters: each changed order's new state; a finished order's
        unspent hold goes back to available (`releases`)."""
        spec, market = self.spec, self.market
        ids: list[int] = []
        statuses: list[str] = []
        executed: list[Decimal | None] = []
        executed_quote: list[Decimal | None] = []
        locked: list[Decimal] = []
        reasons: list[str | None] = []
        applied: list[bool] = []
        priorities: list[int | None] = []
        triggered: list[bool] = []
        for order_id, change in self.changes.items():
            order = orders[order_id]
            status = order.status if change.status is None else str(change.status)
            ids.append(order_id)
            statuses.append(status)
            if change.executed_lots is None:
                executed.append(None)
                executed_quote.append(None)
            else:
                executed.append(spec.lots_to_quantity(change.executed_lots))
                executed_quote.append(spec.units_to_quote(change.executed_quote or 0))
            reasons.append(change.expiry_reason or None)
            applied.append(change.applied)
            priority = order.priority
            if change.priority is not None and (priority is None or change.triggered):
                priority = change.priority
            priorities.append(priority)
            triggered.append(change.triggered)
            remaining = order.locked_amount - change.spent
            if remaining and status in FINAL_STATUSES:
                asset = market.quote if order.locked_asset_id == market.quote_id else market.base
                releases.add(_account(order.user_id, _LOCKED, asset), asset.pk, -remaining)
                releases.add(_account(order.user_id, _AVAILABLE, asset), asset.pk, remaining)
                self.touched.add((order.user_id, asset.pk))
                remaining = Decimal(0)
            locked.append(remaining)
        id_array = array_literal(ids)
        return [
            self.now,
            self.now,
            id_array,
            array_literal(statuses),
            array_literal(executed),
            array_literal(executed_quote),
            array_literal(locked),
            array_literal(reasons),
            array_literal(applied),
            array_literal(priorities),
            array_literal(triggered),
            id_array,
        ]

    def finish(self, end: BatchEnd) -> None:
        """Write the batch (inside the caller's transaction). Raises BatchConflict if the market
        moved on meanwhile, InsufficientFunds or LedgerImbalance if settlement would break the
        ledger; the caller's transaction then writes nothing. A small batch's own rows go in the
        round trip of the orders' lock."""
        if self._own_rows_are_small():
            self.write_shared_rows(end, own_rows=True)
        else:
            self.write_own_rows()
            self.write_shared_rows(end)

    def _own_rows_are_small(self) -> bool:
        return len(self.fills) <= SMALL_OWN_ROWS

    def _own_rows_statements(self) -> list[tuple[str, list[Any]]]:
        """A small batch's own rows as statements that can be pipelined (COPY cannot)."""
        statements: list[tuple[str, list[Any]]] = []
        if self.fills:
            columns = list(zip(*self.fills, strict=True))
            statements.append(
                (_FILLS_INSERT_SQL, [self.market.pk, self.now, *map(array_literal, columns[1:-1])])
            )
        entries = ledger_entries_params(self.entries)
        if entries is not None:
            statements.append((ENTRIES_INSERT_SQL, entries))
        return statements

    def write_own_rows(self) -> None:
        """The first half of `finish`: rows only this batch has (fills, its trades' journal
        entries and lines). Locks no existing row, so it may run while the previous batch
        commits (exchange/services/matching.py). A small batch's in one round trip; a large
        one's through COPY."""
        if self._own_rows_are_small():
            with prepared_cursor() as cursor, one_round_trip():
                for sql, params in self._own_rows_statements():
                    cursor.execute(sql, params)
            return
        if self.fills:
            # Every value is an int, a Decimal or a side ("Bid"/"Ask"): COPY text as is. The last
            # is the batch's `now`, formatted once rather than once per row.
            end = f"\t{self.now}\n"
            copy_text(
                "exchange_fill",
                FILL_COLUMNS,
                "".join(["\t".join(map(str, row[:-1])) + end for row in self.fills]),
            )
        ledger_entries_insert(self.entries)

    def write_shared_rows(self, end: BatchEnd, *, own_rows: bool = False) -> None:
        """The second half of `finish`, after the previous batch committed: what other batches
        share (orders, balances, candles, the market's state), read and written under their row
        locks, and the stream events (the publisher sends outbox rows in id order, which must
        be commit order). `own_rows`: write the first half's rows too (a small batch's), in the
        first round trip.

        Two round trips whatever the batch: the orders' lock (their state decides the rest),
        then every other statement pipelined (sent together, answered together). From the
        ledger accounts' lock to the end of the caller's COMMIT, a placement on the API side
        that needs one of them waits (exchange/services/orders.py); so what no placement touches
        is written before that lock, in the same round trip, and the checks that need the
        locked balances and the compare-and-set's answer run on the answers, raising (and so
        rolling the whole transaction back) before the caller commits."""
        market, spec, events = self.market, self.spec, self.events
        orders: dict[int, OrderRow] = {}
        own = self._own_rows_statements() if own_rows else []
        if own or self.changes:
            # Answers read after the round trip need a cursor each; the others share one.
            with prepared_cursor() as cursor, prepared_cursor() as lock:
                with one_round_trip():  # with the transaction's BEGIN, when this opens it
                    for sql, params in own:
                        cursor.execute(sql, params)
                    if self.changes:
                        lock.execute(_ORDERS_LOCK_SQL, [array_literal(self.changes)])
                if self.changes:
                    orders = {row[0]: OrderRow._make(row) for row in lock.fetchall()}
        releases = PendingEntry(kind=EntryKind.RELEASE, reference=f"release:{market.symbol}:{end.sequence}")
        orders_params = self._orders_params(orders, releases) if orders else None
        release_params = None
        if len(releases.lines) > SMALL_OWN_ROWS:
            ledger_entries_insert([releases])  # COPY: cheaper per row, and no ledger row locked yet
        else:
            release_params = ledger_entries_params([releases])
        deltas = ledger_deltas([*self.entries, releases])
        move_params = ledger_move_params(deltas)
        pairs = self._balance_pairs(orders) if events.orders or self.touched else []
        symbols = {market.base_id: market.base.symbol, market.quote_id: market.quote.symbol}
        with prepared_cursor() as cursor, prepared_cursor() as locked, prepared_cursor() as state:
            with one_round_trip():
                # Rows no placement touches (the caller's advisory lock makes this worker the
                # market's only writer of orders' states, candles and command results).
                if orders_params is not None:
                    cursor.execute(_ORDERS_UPDATE_SQL, orders_params)
                if release_params is not None:
                    cursor.execute(ENTRIES_INSERT_SQL, release_params)
                for start, (open_, high, low, close, volume, quote_volume, trades) in self.candle.items():
                    cursor.execute(
                        _CANDLE_SQL, [market.pk, start, open_, high, low, close, volume, quote_volume, trades]
                    )
                if self.results:
                    sequences = array_literal([sequence for sequence, _ in self.results])
                    cursor.execute(
                        _RESULTS_SQL,
                        [sequences, [json.dumps(result) for _, result in self.results], market.pk, sequences],
                    )
                # The ledger accounts (in id order), then the MarketState row: the lock order.
                if deltas:
                    locked.execute(LEDGER_LOCK_SQL, ledger_lock_params(deltas))
                if move_params is not None:
                    cursor.execute(LEDGER_MOVE_SQL, move_params)
                if events.public or events.orders or pairs:
                    # One row for the batch's stream events; the publisher renders the frames.
                    cursor.execute(
                        _OUTBOX_SQL,
                        [
                            BATCH_STREAM,
                            _dumps(events.payload()),
                            array_literal([user_id for user_id, _ in pairs]),
                            array_literal([asset_id for _, asset_id in pairs]),
                            array_literal([symbols[asset_id] for _, asset_id in pairs]),
                            self.now,
                            NOTIFY_CHANNEL,
                        ],
                    )
                # Compare-and-set: exactly once even if this worker lost the market's lock while
                # the batch was being written (its session died) and another worker took over.
                state.execute(
                    _STATE_SQL,
                    [
                        end.sequence,
                        end.update_id,
                        end.trade_id,
                        spec.ticks_to_price(end.last_price) if end.last_price is not None else None,
                        market.pk,
                        end.previous_sequence,
                    ],
                )
            if deltas:
                ledger_balances_check(locked.fetchall(), deltas)
            if state.rowcount != 1:
                raise BatchConflict(
                    f"market {market.pk}: batch after {end.previous_sequence} no longer applies"
                )


@contextmanager
def one_round_trip() -> Iterator[None]:
    """The statements executed in the block are sent together and answered together (psycopg's
    pipeline mode), with the BEGIN psycopg adds before the first one of a transaction: one round
    trip, where each statement used to be one. Their answers are read after the block; an error
    raises when it ends (as Django's exception classes), and the statements after the failed one
    are skipped. Only with prepared statements, whose cursors psycopg pipelines; Django's
    client-side cursors (`API_PREPARED_STATEMENTS` off) run each statement as it comes."""
    if not settings.API_PREPARED_STATEMENTS:
        yield
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield


_RESULTS_SQL = """UPDATE exchange_marketcommand AS c SET result = s.result::jsonb
  FROM unnest(%s::bigint[], %s::text[]) AS s(sequence, result)
 WHERE c.market_id = %s AND c.sequence = s.sequence AND c.sequence = ANY(%s::bigint[])"""

_STATE_SQL = """UPDATE exchange_marketstate SET last_applied_sequence = %s, last_update_id = %s,
       last_trade_id = %s, last_price = %s
 WHERE market_id = %s AND last_applied_sequence = %s"""

# One statement per minute touched: usually one. Parameters cast, as they are bound server-side.
_CANDLE_SQL = """INSERT INTO exchange_candle (market_id, start, open, high, low, close, volume, quote_volume, trades)
VALUES (%s::bigint, %s::timestamptz, %s::numeric, %s::numeric, %s::numeric, %s::numeric, %s::numeric,
        %s::numeric, %s::integer)
ON CONFLICT (market_id, start) DO UPDATE SET
  high = GREATEST(exchange_candle.high, EXCLUDED.high),
  low = LEAST(exchange_candle.low, EXCLUDED.low),
  close = EXCLUDED.close,
  volume = exchange_candle.volume + EXCLUDED.volume,
  quote_volume = exchange_candle.quote_volume + EXCLUDED.quote_volume,
  trades = exchange_candle.trades + EXCLUDED.trades"""

# The batch's outbox row, its balance events ("b") filled in from the ledger as this transaction
# left it (after the move, which it follows): [user id, asset symbol, available, locked, staked]
# per (user, asset) pair, in the order given, a missing account as "0". `trim_scale(...)::text`
# is `core.money.render` of a numeric (fixed-point, trailing zeros trimmed). Reading them here
# rather than in a query of their own saves that statement and, pipelined, its round trip. And the
# publisher's wake-up, NOTIFY as a function (PostgreSQL delivers it at commit, once per transaction).
_OUTBOX_SQL = f"""WITH event AS (
INSERT INTO exchange_outboxevent (stream, user_id, payload, created_at)
SELECT %s::varchar, NULL, jsonb_set(%s::jsonb, '{{b}}', COALESCE((
         SELECT jsonb_agg(jsonb_build_array(pair.owner_id, pair.symbol, COALESCE(held.available, '0'),
                                            COALESCE(held.locked, '0'), COALESCE(held.staked, '0'))
                          ORDER BY pair.n)
           FROM unnest(%s::bigint[], %s::bigint[], %s::text[]) WITH ORDINALITY AS pair(owner_id, asset_id, symbol, n)
          CROSS JOIN LATERAL (
                SELECT max(trim_scale(a.balance)::text) FILTER (WHERE a.kind = '{_AVAILABLE}') AS available,
                       max(trim_scale(a.balance)::text) FILTER (WHERE a.kind = '{_LOCKED}') AS locked,
                       max(trim_scale(a.balance)::text) FILTER (WHERE a.kind = '{_STAKED}') AS staked
                  FROM exchange_ledgeraccount AS a
                 WHERE a.owner_id = pair.owner_id AND a.asset_id = pair.asset_id
                   AND a.kind IN ('{_AVAILABLE}', '{_LOCKED}', '{_STAKED}')) AS held), '[]'::jsonb)),
       %s::timestamptz
RETURNING id)
SELECT pg_notify(%s::text, '') FROM event"""  # noqa: S608  (the kinds are constants)
