"""The market's single writer: drain pending commands through the engine, persist each batch.

One transaction per batch writes fills, order states, settlement postings, candles, outbox events
and `MarketState.last_applied_sequence`. A crash before the commit leaves the batch pending; the
next worker rebuilds the book from the database and applies it again, and the engine being
deterministic, gets the same result. After the commit nothing is redone.

One writer per market: the drain holds a PostgreSQL advisory lock on the market, which the
database releases by itself if the worker dies. Lock order: ledger accounts (by id), then the
MarketState row, as on the API side (exchange/services/orders.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q

from exchange.engine import commands as ec
from exchange.engine.engine import MatchingEngine
from exchange.engine.enums import CancelScope, TriggerKind
from exchange.engine.enums import OrderType as EngineOrderType
from exchange.engine.enums import SelfTradePrevention as EngineStp
from exchange.engine.enums import Side as EngineSide
from exchange.engine.enums import TimeInForce as EngineTif
from exchange.engine.spec import MarketSpec
from exchange.engine.state import RestingOrder, Snapshot
from exchange.models import (
    CommandKind,
    Market,
    MarketCommand,
    MarketState,
    Order,
    OrderStatus,
    OrderType,
    Side,
)
from exchange.services.doorbell import command_done_notify
from exchange.services.settlement import BatchWriter

logger = logging.getLogger(__name__)

ADVISORY_NAMESPACE = 0x5A7C  # first key of pg_advisory_lock(int, int): "matching"


@dataclass
class CachedMarket:
    market: Market
    spec: MarketSpec
    engine: MatchingEngine


# Per worker process: the books it has built. Valid only while the process holds the market's lock
# and the database agrees on the last applied sequence.
_books: dict[int, CachedMarket] = {}


@contextmanager
def market_lock(market_id: int) -> Iterator[bool]:
    """Try the market's advisory lock (session level, so it outlives batch transactions)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [ADVISORY_NAMESPACE, market_id])
        acquired = bool(cursor.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [ADVISORY_NAMESPACE, market_id])


def market_spec(market: Market) -> MarketSpec:
    return MarketSpec(tick_size=market.tick_size.normalize(), step_size=market.step_size.normalize())


def _trigger_kind(side: str, trigger_ticks: int, last_price: int | None) -> TriggerKind:
    """Backpack's triggerPrice carries no direction: it fires when the last price reaches it from
    where it is now. Upward: a buy is a stop, a sell takes profit; downward the reverse."""
    upward = last_price is None or trigger_ticks >= last_price
    if side == Side.BID:
        return TriggerKind.STOP_LOSS if upward else TriggerKind.TAKE_PROFIT
    return TriggerKind.TAKE_PROFIT if upward else TriggerKind.STOP_LOSS


def place_command(order: Order, reserved: Decimal, spec: MarketSpec, last_price: int | None) -> ec.PlaceOrder:
    trigger_ticks = spec.price_to_ticks(order.trigger_price) if order.trigger_price is not None else None
    quantity = spec.quantity_to_lots(order.quantity) if order.quantity is not None else None
    is_market = order.order_type == OrderType.MARKET
    quote_limit = None
    if is_market and order.side == Side.BID and order.quote_quantity is None:
        quote_limit = spec.quote_to_units_floor(reserved)
    return ec.PlaceOrder(
        order_id=order.pk,
        account_id=order.user_id,
        side=EngineSide(order.side),
        order_type=EngineOrderType(order.order_type),
        quantity=quantity,
        price=spec.price_to_ticks(order.price) if order.price is not None else None,
        quote_quantity=spec.quote_to_units_floor(order.quote_quantity)
        if order.quote_quantity is not None
        else None,
        quote_limit=quote_limit,
        time_in_force=EngineTif(order.time_in_force),
        post_only=order.post_only,
        self_trade_prevention=EngineStp(order.self_trade_prevention),
        client_id=order.client_id,
        trigger_price=trigger_ticks,
        trigger_kind=_trigger_kind(order.side, trigger_ticks, last_price)
        if trigger_ticks is not None
        else None,
    )


SCOPES = {"all": CancelScope.ALL, "limit": CancelScope.RESTING_LIMIT, "trigger": CancelScope.TRIGGER}


def engine_command(command: MarketCommand, spec: MarketSpec, engine: MatchingEngine) -> ec.Command:
    if command.kind == CommandKind.PLACE:
        reserved = Decimal(command.payload.get("reserved", "0"))
        return place_command(command.order, reserved, spec, engine.last_price)  # type: ignore[arg-type]
    if command.kind == CommandKind.CANCEL:
        return ec.CancelOrder(order_id=command.order_id, account_id=command.user_id)  # type: ignore[arg-type]
    return ec.CancelAll(
        account_id=command.user_id, scope=SCOPES.get(command.payload.get("scope", "all"), CancelScope.ALL)
    )


def market_rebuild(market: Market) -> CachedMarket:
    """The engine as the database says it is after the last applied command."""
    spec = market_spec(market)
    state, _ = MarketState.objects.get_or_create(market=market)
    last_price = spec.price_to_ticks(state.last_price) if state.last_price is not None else None
    resting = Order.objects.filter(
        market=market,
        is_applied=True,
        order_type=OrderType.LIMIT,
        status__in=(OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED),
    ).only(
        "id",
        "user_id",
        "client_id",
        "side",
        "price",
        "quantity",
        "executed_quantity",
        "executed_quote_quantity",
        "priority",
    )
    rows = []
    for order in resting:
        lots = spec.quantity_to_lots(order.quantity)
        executed = spec.quantity_to_lots(order.executed_quantity)
        rows.append(
            (
                order.side,
                -order.price if order.side == Side.BID else order.price,
                order.priority or 0,
                RestingOrder(
                    order_id=order.pk,
                    account_id=order.user_id,
                    side=EngineSide(order.side),
                    price=spec.price_to_ticks(order.price),
                    quantity=lots,
                    remaining=lots - executed,
                    executed_lots=executed,
                    executed_quote=spec.quote_to_units(order.executed_quote_quantity),
                    client_id=order.client_id,
                ),
            )
        )
    rows.sort(key=lambda row: (row[0], row[1], row[2]))
    pending = Order.objects.filter(market=market, is_applied=True, status=OrderStatus.TRIGGER_PENDING)
    reserved = dict(
        MarketCommand.objects.filter(market=market, kind=CommandKind.PLACE, order__in=pending).values_list(
            "order_id", "payload__reserved"
        )
    )
    triggers = [
        place_command(order, Decimal(reserved.get(order.pk) or "0"), spec, last_price)
        for order in pending.order_by("sequence")
    ]
    snapshot = Snapshot(
        sequence=state.last_applied_sequence,
        update_id=state.last_update_id,
        trade_id=state.last_trade_id,
        last_price=last_price,
        orders=tuple(row[3] for row in rows),
        triggers=tuple(triggers),
    )
    cached = CachedMarket(market=market, spec=spec, engine=MatchingEngine.restore(snapshot))
    _books[market.pk] = cached
    return cached


@dataclass
class DrainReport:
    applied: int = 0
    batches: int = 0
    busy: bool = False
    sequences: list[int] = field(default_factory=list)


# A market with commands numbered but not yet applied.
HAS_PENDING = Q(next_sequence__gt=F("last_applied_sequence") + 1)


def market_has_pending(market_id: int) -> bool:
    return MarketState.objects.filter(HAS_PENDING, pk=market_id).exists()


def market_drain(market_id: int, *, max_seconds: float = 30.0) -> DrainReport:
    """Apply every pending command of the market, batch by batch. `busy` if another worker holds it.

    A busy worker drops its doorbell: the holder looks for pending commands again after it lets
    the lock go, so a command committed while the holder was finishing is never stranded (it is
    either visible to that last look, or its doorbell arrives after the lock is free).
    """
    report = DrainReport()
    deadline = time.monotonic() + max_seconds
    while True:
        with market_lock(market_id) as acquired:
            if not acquired:
                report.busy = True
                return report
            while time.monotonic() < deadline:
                applied = _drain_batch(market_id)
                if not applied:
                    break
                report.applied += len(applied)
                report.batches += 1
                command_done_notify(market_id=market_id, sequences=applied)
        if time.monotonic() >= deadline or not market_has_pending(market_id):
            return report


def _drain_batch(market_id: int) -> list[int]:
    state = MarketState.objects.filter(pk=market_id).only("last_applied_sequence").first()
    if state is None:
        return []
    commands = list(
        MarketCommand.objects.filter(market_id=market_id, sequence__gt=state.last_applied_sequence)
        .select_related("order")
        .order_by("sequence")[: settings.MATCHING_BATCH_SIZE]
    )
    if not commands:
        return []
    cached = _books.get(market_id)
    if cached is None or cached.engine.sequence != state.last_applied_sequence:
        market = Market.objects.select_related("base", "quote").get(pk=market_id)
        cached = market_rebuild(market)
    if commands[0].sequence != cached.engine.sequence + 1:
        raise RuntimeError(
            f"market {market_id}: command {commands[0].sequence} after {cached.engine.sequence}"
        )
    try:
        with transaction.atomic(durable=True):
            writer = BatchWriter(market=cached.market, spec=cached.spec)
            for command in commands:
                update_before = cached.engine.update_id
                events = cached.engine.apply(engine_command(command, cached.spec, cached.engine))
                writer.record(
                    command,
                    events,
                    cached.engine.update_id if cached.engine.update_id != update_before else None,
                )
            writer.finish(cached.engine)
    except BaseException:
        # The in-memory book ran ahead of the database: throw it away and rebuild next time.
        _books.pop(market_id, None)
        raise
    return [command.sequence for command in commands]


__all__ = ["DrainReport", "market_drain", "market_rebuild", "market_spec"]
