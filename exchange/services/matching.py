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

import contextlib
import gc
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import F, Q

from core.advisory_locks import AdvisoryNamespace
from core.api_prepared import prepared_cursor
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
from exchange.services.doorbell import batch_order_states, command_done_notify, doorbell_answer
from exchange.services.ledger_batch import ledger_accounts_preload
from exchange.services.settlement import BatchEnd, BatchWriter, one_round_trip

logger = logging.getLogger(__name__)

ADVISORY_NAMESPACE = int(AdvisoryNamespace.MATCHING)
_TRY_LOCK_SQL = "SELECT pg_try_advisory_lock(%s, %s)"
_UNLOCK_SQL = "SELECT pg_advisory_unlock(%s, %s)"
_LAST_APPLIED_SQL = "SELECT last_applied_sequence FROM exchange_marketstate WHERE market_id = %s"


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
    with prepared_cursor() as cursor:
        cursor.execute(_TRY_LOCK_SQL, [ADVISORY_NAMESPACE, market_id])
        acquired = bool(cursor.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            with prepared_cursor() as cursor:
                cursor.execute(_UNLOCK_SQL, [ADVISORY_NAMESPACE, market_id])


def market_spec(market: Market) -> MarketSpec:
    return MarketSpec(tick_size=market.tick_size.normalize(), step_size=market.step_size.normalize())


def _trigger_kind(side: str, trigger_ticks: int, last_price: int | None) -> TriggerKind:
    """Backpack's triggerPrice carries no direction: it fires when the last price reaches it from
    where it is now. Upward: a buy is a stop, a sell takes profit; downward the reverse."""
    upward = last_price is None or trigger_ticks >= last_price
    if side == Side.BID:
        return TriggerKind.STOP_LOSS if upward else TriggerKind.TAKE_PROFIT
    return TriggerKind.TAKE_PROFIT if upward else TriggerKind.STOP_LOSS


# Engine enums by value: a dict lookup instead of an Enum call per command (an unknown value
# still goes through the Enum call, which raises ValueError as before).
_SIDES = {member.value: member for member in EngineSide}
_ORDER_TYPES = {member.value: member for member in EngineOrderType}
_TIFS = {member.value: member for member in EngineTif}
_STPS = {member.value: member for member in EngineStp}


class SpecMemo:
    """A market's conversions into engine units with each distinct value converted once (per
    batch: prices and sizes repeat). Only Decimals are remembered, since a float equal to one
    would hash alike and must still be refused; a value that fails is not remembered either."""

    __slots__ = ("_floors", "_lots", "_ticks", "spec")

    def __init__(self, spec: MarketSpec) -> None:
        self.spec = spec
        self._ticks: dict[Decimal, int] = {}
        self._lots: dict[Decimal, int] = {}
        self._floors: dict[Decimal, int] = {}

    def price_to_ticks(self, price: Decimal) -> int:
        ticks = self._ticks.get(price) if type(price) is Decimal else None
        if ticks is None:
            ticks = self.spec.price_to_ticks(price)
            if type(price) is Decimal:
                self._ticks[price] = ticks
        return ticks

    def quantity_to_lots(self, quantity: Decimal) -> int:
        lots = self._lots.get(quantity) if type(quantity) is Decimal else None
        if lots is None:
            lots = self.spec.quantity_to_lots(quantity)
            if type(quantity) is Decimal:
                self._lots[quantity] = lots
        return lots

    def quote_to_units_floor(self, quote: Decimal) -> int:
        units = self._floors.get(quote) if type(quote) is Decimal else None
        if units is None:
            units = self.spec.quote_to_units_floor(quote)
            if type(quote) is Decimal:
                self._floors[quote] = units
        return units


def _place(
    *,
    order_id: int,
    account_id: int,
    side: str,
    order_type: str,
    quantity: Decimal | None,
    price: Decimal | None,
    quote_quantity: Decimal | None,
    reserved: Decimal,
    time_in_force: str,
    post_only: bool,
    self_trade_prevention: str,
    client_id: int | None,
    trigger_price: Decimal | None,
    spec: MarketSpec | SpecMemo,
    last_price: int | None,
) -> ec.PlaceOrder:
    trigger_ticks = spec.price_to_ticks(trigger_price) if trigger_price is not None else None
    is_market = order_type == OrderType.MARKET
    quote_limit = None
    if is_market and side == Side.BID and quote_quantity is None:
        quote_limit = spec.quote_to_units_floor(reserved)
    return ec.PlaceOrder(
        order_id=order_id,
        account_id=account_id,
        side=_SIDES.get(side) or EngineSide(side),
        order_type=_ORDER_TYPES.get(order_type) or EngineOrderType(order_type),
        quantity=spec.quantity_to_lots(quantity) if quantity is not None else None,
        price=spec.price_to_ticks(price) if price is not None else None,
        quote_quantity=spec.quote_to_units_floor(quote_quantity) if quote_quantity is not None else None,
        quote_limit=quote_limit,
        time_in_force=_TIFS.get(time_in_force) or EngineTif(time_in_force),
        post_only=post_only,
        self_trade_prevention=_STPS.get(self_trade_prevention) or EngineStp(self_trade_prevention),
        client_id=client_id,
        trigger_price=trigger_ticks,
        trigger_kind=_trigger_kind(side, trigger_ticks, last_price) if trigger_ticks is not None else None,
    )


def place_command(order: Order, reserved: Decimal, spec: MarketSpec, last_price: int | None) -> ec.PlaceOrder:
    return _place(
        order_id=order.pk,
        account_id=order.user_id,
        side=order.side,
        order_type=order.order_type,
        quantity=order.quantity,
        price=order.price,
        quote_quantity=order.quote_quantity,
        reserved=reserved,
        time_in_force=order.time_in_force,
        post_only=order.post_only,
        self_trade_prevention=order.self_trade_prevention,
        client_id=order.client_id,
        trigger_price=order.trigger_price,
        spec=spec,
        last_price=last_price,
    )


class CommandRow(NamedTuple):
    """A pending command joined with its order's fields (placements only), as the drain reads it."""

    sequence: int
    kind: str
    user_id: int
    order_id: int | None
    reserved: str | None
    scope: str | None
    side: str | None
    order_type: str | None
    quantity: Decimal | None
    price: Decimal | None
    quote_quantity: Decimal | None
    time_in_force: str | None
    post_only: bool | None
    self_trade_prevention: str | None
    client_id: int | None
    trigger_price: Decimal | None


_COMMANDS_SQL = """SELECT c.sequence, c.kind, c.user_id, c.order_id, c.payload ->> 'reserved',
       c.payload ->> 'scope', o.side, o.order_type, o.quantity, o.price, o.quote_quantity,
       o.time_in_force, o.post_only, o.self_trade_prevention, o.client_id, o.trigger_price
  FROM exchange_marketcommand AS c
  LEFT JOIN exchange_order AS o ON o.id = c.order_id AND c.kind = 'place'
 WHERE c.market_id = %s AND c.sequence > %s AND c.sequence <= %s
 ORDER BY c.sequence
 LIMIT %s"""


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


def _row_command(row: CommandRow, spec: MarketSpec | SpecMemo, last_price: int | None) -> ec.Command:
    if row.kind == CommandKind.PLACE:
        return _place(
            order_id=row.order_id,  # type: ignore[arg-type]
            account_id=row.user_id,
            side=row.side,  # type: ignore[arg-type]
            order_type=row.order_type,  # type: ignore[arg-type]
            quantity=row.quantity,
            price=row.price,
            quote_quantity=row.quote_quantity,
            reserved=Decimal(row.reserved or "0"),
            time_in_force=row.time_in_force,  # type: ignore[arg-type]
            post_only=bool(row.post_only),
            self_trade_prevention=row.self_trade_prevention,  # type: ignore[arg-type]
            client_id=row.client_id,
            trigger_price=row.trigger_price,
            spec=spec,
            last_price=last_price,
        )
    if row.kind == CommandKind.CANCEL:
        return ec.CancelOrder(order_id=row.order_id, account_id=row.user_id)  # type: ignore[arg-type]
    return ec.CancelAll(account_id=row.user_id, scope=SCOPES.get(row.scope or "all", CancelScope.ALL))


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
    ledger_accounts_preload(
        owner_ids={row[3].account_id for row in rows}, asset_ids=(market.base_id, market.quote_id)
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
_HAS_PENDING_SQL = """SELECT EXISTS (SELECT FROM exchange_marketstate
                      WHERE market_id = %s AND next_sequence > last_applied_sequence + 1)"""


def market_has_pending(market_id: int) -> bool:
    with prepared_cursor() as cursor:
        cursor.execute(_HAS_PENDING_SQL, [market_id])
        return bool(cursor.fetchone()[0])


class LockedRead(NamedTuple):
    """What the drain reads in the round trip that takes the market's lock: the last applied
    sequence (None without a state row), and the commands after the cached book's sequence
    (`after`; None when no book was cached), to be used only if that is still the book's."""

    last_applied: int | None
    after: int | None
    commands: list[CommandRow] | None


def _market_lock_and_read(market_id: int) -> LockedRead | None:
    """Try the market's advisory lock (session level, so it outlives batch transactions); if
    taken, what the drain reads first, in the same round trip (pipelined). None if another
    worker holds the lock. Each statement takes its own snapshot, after the one before it ran,
    so the reads see everything committed before the lock was taken."""
    cached = _books.get(market_id)
    after = cached.engine.sequence if cached is not None else None
    batch_size = settings.MATCHING_BATCH_SIZE
    with prepared_cursor() as lock, prepared_cursor() as state, prepared_cursor() as commands:
        try:
            with one_round_trip():
                lock.execute(_TRY_LOCK_SQL, [ADVISORY_NAMESPACE, market_id])
                state.execute(_LAST_APPLIED_SQL, [market_id])
                if after is not None:
                    commands.execute(_COMMANDS_SQL, [market_id, after, after + batch_size, batch_size])
        except BaseException:
            # The lock may have been taken before the statement that failed.
            with contextlib.suppress(Exception), prepared_cursor() as cursor:
                cursor.execute(_UNLOCK_SQL, [ADVISORY_NAMESPACE, market_id])
            raise
        if not lock.fetchone()[0]:
            return None
        row = state.fetchone()
        return LockedRead(
            last_applied=row[0] if row is not None else None,
            after=after,
            commands=[CommandRow._make(row) for row in commands.fetchall()] if after is not None else None,
        )


def _market_unlock(market_id: int, *, look_again: bool) -> bool:
    """Let the market's lock go; with `look_again`, then whether commands are pending (the
    look that covers drains turned away busy meanwhile), in the same round trip: it runs after
    the unlock, with a snapshot of its own."""
    with prepared_cursor() as cursor:
        with one_round_trip():
            cursor.execute(_UNLOCK_SQL, [ADVISORY_NAMESPACE, market_id])
            if look_again:
                cursor.execute(_HAS_PENDING_SQL, [market_id])  # the cursor's answer: this one's
        return look_again and bool(cursor.fetchone()[0])


def market_drain(market_id: int, *, max_seconds: float = 30.0) -> DrainReport:
    """Apply every pending command of the market, batch by batch. `busy` if another worker holds it.

    A busy worker drops its doorbell: the holder looks for pending commands again after it lets
    the lock go, so a command committed while the holder was finishing is never stranded (it is
    either visible to that last look, or its doorbell arrives after the lock is free).
    """
    report = DrainReport()
    doorbell_answer(market_id=market_id)
    deadline = time.monotonic() + max_seconds
    while True:
        first = _market_lock_and_read(market_id)
        if first is None:
            report.busy = True
            return report
        try:
            with _gc_paused():
                _drain_locked(market_id, deadline, report, first)
        except BaseException:
            _market_unlock(market_id, look_again=False)
            raise
        if not _market_unlock(market_id, look_again=time.monotonic() < deadline):
            return report


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a drain runs (both its threads; it resumes, and catches
    up, when the drain ends). A batch allocates a few hundred thousand small lists and tuples,
    none of them in a cycle, so reference counting frees them all; but each few hundred
    allocations triggered the collector, which walked them all the same: a sampling profile of
    the drain put ~15 % of the worker's time at allocation sites (docs/PERFORMANCE.md)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@dataclass
class PreparedBatch:
    """A batch matched in memory, its rows ready, not yet written."""

    market_id: int
    writer: BatchWriter
    end: BatchEnd
    sequences: list[int]
    own_rows_written: threading.Event = field(default_factory=threading.Event)
    # Committed on the drain's thread, no batch in flight before or after it.
    alone: bool = False


# Full batches in flight under a backlog, each on its own writer thread and connection
# (`settings.MATCHING_WRITERS` overrides; 1 writes one batch at a time). Three since the worker's
# interpreter stopped being the limit: +10-25 % over two on a quiet machine (docs/PERFORMANCE.md).
WRITERS = 3


def _drain_locked(
    market_id: int, deadline: float, report: DrainReport, first: LockedRead | None = None
) -> None:
    """Drain while holding the market's lock.

    Under a backlog (a full batch read) the drain pipelines: this thread reads and matches batch
    N+2 in memory while two writer threads, each on its own connection, write batch N+1 and
    commit batch N. Batch N+1 writes the rows only it has (fills, its trades' journal entries and
    lines) once N has written its own, then waits until N has committed before it touches what
    they share (orders, balances, candles, the outbox, the market's state), so commits happen
    strictly in order. Each batch also carries the last applied sequence it was matched after,
    compared-and-set; a batch after one that failed fails too and writes nothing. Any failure
    drops the in-memory book, whose next rebuild starts from what the database committed, so a
    crash or an error at any point replays from there exactly once. A small batch is committed on
    this thread (after those in flight), as is everything when the caller is inside a transaction
    (another thread would not see it).

    `first`: what was read with the lock (`_market_lock_and_read`); without it, read here.
    """
    cached = _book_for(market_id, first.last_applied if first is not None else _UNREAD)
    if cached is None:
        return
    # The commands read with the lock, if they follow the book as it is now.
    prefetched = first.commands if first is not None and first.after == cached.engine.sequence else None
    batch_size = settings.MATCHING_BATCH_SIZE
    in_flight = max(1, int(getattr(settings, "MATCHING_WRITERS", WRITERS)))
    may_pipeline = not connection.in_atomic_block
    writers: list[ThreadPoolExecutor] = []
    pending: deque[InFlight] = deque()
    submitted = 0

    def settle(batch: InFlight) -> None:
        report.applied += len(batch.future.result())
        report.batches += 1

    try:
        while time.monotonic() < deadline:
            if prefetched is not None:
                commands, prefetched = prefetched, None
            else:
                commands = _commands_after(market_id, cached.engine.sequence, batch_size)
            if not commands:
                break
            prepared = _batch_prepare(cached, commands)
            if may_pipeline and len(commands) == batch_size:
                if len(pending) == in_flight:
                    settle(pending.popleft())
                if len(writers) < in_flight:
                    name = f"matching-{market_id}-{len(writers)}"
                    writers.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix=name))
                # Writer i takes batches i, i + in_flight, ...: its previous one is settled by now.
                previous = pending[-1] if pending else None
                future = writers[submitted % in_flight].submit(_batch_commit, prepared, previous)
                pending.append(InFlight(future, prepared.own_rows_written))
                submitted += 1
            else:
                while pending:
                    settle(pending.popleft())
                prepared.alone = True
                report.applied += len(_batch_commit(prepared))
                report.batches += 1
                if len(commands) < batch_size:
                    # A short read took every command there was: another read now would almost
                    # always come back empty, a round trip per drain. `market_drain` looks for
                    # pending commands again once the lock is let go, which covers any that
                    # arrived meanwhile.
                    break
        while pending:
            settle(pending.popleft())
    except BaseException:
        # The in-memory book ran ahead of the database: throw it away, rebuild next time.
        _books.pop(market_id, None)
        wait([batch.future for batch in pending])  # never leave a commit running behind the caller's back
        raise
    finally:
        for writer in writers:
            writer.submit(connections.close_all).result()
            writer.shutdown(wait=True)


_UNREAD = -1


def _book_for(market_id: int, last_applied: int | None = _UNREAD) -> CachedMarket | None:
    """The cached book if it matches what the database last applied (`last_applied`, read under
    the market's lock; read here if not given), else one rebuilt from it. None without a state row."""
    if last_applied == _UNREAD:
        with prepared_cursor() as cursor:
            cursor.execute(_LAST_APPLIED_SQL, [market_id])
            row = cursor.fetchone()
        last_applied = row[0] if row is not None else None
    if last_applied is None:
        return None
    cached = _books.get(market_id)
    if cached is None or cached.engine.sequence != last_applied:
        market = Market.objects.select_related("base", "quote").get(pk=market_id)
        cached = market_rebuild(market)
    return cached


def _commands_after(market_id: int, sequence: int, limit: int) -> list[CommandRow]:
    # Sequences are gap-free (numbered in the transaction that stores the command), so the next
    # `limit` lie in (sequence, sequence + limit]. The upper bound keeps the plan an index range
    # of `limit` rows even when the statistics predate a burst of commands: without it the
    # planner may join every pending command to its order and sort, each batch, before LIMIT.
    with prepared_cursor() as cursor:
        cursor.execute(_COMMANDS_SQL, [market_id, sequence, sequence + limit, limit])
        return [CommandRow._make(row) for row in cursor.fetchall()]


def _batch_prepare(cached: CachedMarket, commands: list[CommandRow]) -> PreparedBatch:
    """Match the commands in memory and build the batch's rows; the database is only read."""
    engine, spec, market = cached.engine, cached.spec, cached.market
    previous = engine.sequence
    if commands[0].sequence != previous + 1:
        raise RuntimeError(f"market {market.pk}: command {commands[0].sequence} after {previous}")
    ledger_accounts_preload(
        owner_ids={command.user_id for command in commands}, asset_ids=(market.base_id, market.quote_id)
    )
    writer = BatchWriter(market=market, spec=spec)
    record = writer.record
    memo = SpecMemo(spec)
    for command in commands:
        update_before = engine.update_id
        events = engine.apply(_row_command(command, memo, engine.last_price))
        record(
            command.sequence,
            command.kind,
            events,
            engine.update_id if engine.update_id != update_before else None,
        )
    return PreparedBatch(
        market_id=market.pk,
        writer=writer,
        end=BatchEnd.of(engine, previous_sequence=previous),
        sequences=[command.sequence for command in commands],
    )


def _batch_commit(prepared: PreparedBatch, previous: InFlight | None = None) -> list[int]:
    """Write one prepared batch in one durable transaction, then wake the REST calls waiting on it.

    `previous`: the batch before it, in flight on another writer thread. This batch writes its
    own rows once the previous one has written its own (so ids keep batch order), and the rows
    they share once the previous one has committed; if that failed, so does this one, having
    written nothing. A batch `alone` (none in flight before or after it) has its rows written in
    as few round trips as they can be (`BatchWriter.finish`).
    """
    try:
        with transaction.atomic(durable=True):
            if prepared.alone:
                prepared.writer.finish(prepared.end)
            else:
                if previous is not None:
                    previous.own_rows_written.wait()
                prepared.writer.write_own_rows()
                prepared.own_rows_written.set()
                if previous is not None:
                    previous.future.result()
                prepared.writer.write_shared_rows(prepared.end)
    finally:
        prepared.own_rows_written.set()  # never leave the next batch waiting
    command_done_notify(
        market_id=prepared.market_id,
        sequences=prepared.sequences,
        orders=batch_order_states(prepared.writer),
    )
    return prepared.sequences


@dataclass
class InFlight:
    future: Future[list[int]]
    own_rows_written: threading.Event


__all__ = ["DrainReport", "market_drain", "market_rebuild", "market_spec"]
