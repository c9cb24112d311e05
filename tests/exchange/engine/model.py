"""An independent model of the book, rebuilt from the engine's events alone, that checks invariants.

It plays the persister: it knows each placement's command and otherwise only the events. After
every command its book must equal the engine's snapshot, which proves the events carry everything
needed to follow the book. While replaying events it asserts:

- every fill is against the best resting order of the other side (best price, then oldest), at that
  order's price, within the taker's limit; a maker removed by STP is likewise the best one;
- no fill pairs one account with itself unless the taker allows it; post-only orders never take;
- FOK orders fill entirely or leave the book exactly as it was;
- quantities are conserved: executed + resting + expired/cancelled remainder == original quantity,
  executed amounts equal the sum of the fills, budgets are respected;
- every reported level total equals the sum of the resting orders at that price, and the book is
  never crossed after a command;
- trade ids are consecutive, sequence and update id advance as documented.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count

from exchange.engine.commands import CancelAll, CancelOrder, Command, PlaceOrder
from exchange.engine.engine import MatchingEngine
from exchange.engine.enums import ALLOW, ASK, BID, FOK, LIMIT, ExpiryReason, OrderStatus
from exchange.engine.events import (
    CancelRejected,
    Event,
    Fill,
    LevelChanged,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    OrderTriggered,
    TriggerPlaced,
)
from exchange.engine.state import RestingOrder, Snapshot


@dataclass
class Resting:
    order_id: int
    account_id: int
    side: object
    price: int
    quantity: int
    remaining: int
    executed_lots: int
    executed_quote: int
    client_id: int | None
    arrival: int


@dataclass
class Taker:
    command: PlaceOrder
    accepted: OrderAccepted
    fill_lots: int = 0
    fill_quote: int = 0
    stp_makers: int = 0
    expired: ExpiryReason | None = None


@dataclass
class Model:
    commands: dict[int, PlaceOrder] = field(default_factory=dict)
    book: dict[int, Resting] = field(default_factory=dict)
    triggers: dict[int, PlaceOrder] = field(default_factory=dict)
    arrivals: count = field(default_factory=count)  # type: ignore[type-arg]
    trade_id: int = 0
    sequence: int = 0
    update_id: int = 0
    fills_seen: int = 0

    def best(self, side: object) -> Resting | None:
        mine = [o for o in self.book.values() if o.side is side]
        if not mine:
            return None
        if side is BID:
            return min(mine, key=lambda o: (-o.price, o.arrival))
        return min(mine, key=lambda o: (o.price, o.arrival))

    def level_total(self, side: object, price: int) -> int:
        return sum(o.remaining for o in self.book.values() if o.side is side and o.price == price)

    def apply(self, engine: MatchingEngine, command: Command) -> list[Event]:
        before = engine.snapshot()
        update_id = engine.update_id
        events = engine.apply(command)
        self.sequence += 1
        assert engine.sequence == self.sequence
        if isinstance(command, PlaceOrder) and not any(type(e) is OrderRejected for e in events):
            self.commands[command.order_id] = command
        self.replay(command, events, before)
        changed = any(type(e) is LevelChanged for e in events)
        assert engine.update_id == update_id + (1 if changed else 0)
        self.compare(engine)
        return events

    def replay(self, command: Command, events: list[Event], before: Snapshot) -> None:
        taker: Taker | None = None
        for event in events:
            kind = type(event)
            if kind is OrderAccepted:
                self.close(taker)
                taker = Taker(self.commands[event.order_id], event)
                if event.resting_lots:
                    cmd = taker.command
                    assert cmd.order_type is LIMIT
                    self.book[event.order_id] = Resting(
                        event.order_id,
                        cmd.account_id,
                        cmd.side,
                        cmd.price,  # type: ignore[arg-type]
                        cmd.quantity,  # type: ignore[arg-type]
                        event.resting_lots,
                        event.executed_lots,
                        event.executed_quote,
                        cmd.client_id,
                        next(self.arrivals),
                    )
            elif kind is Fill:
                assert taker is not None
                assert event.taker_order_id == taker.accepted.order_id
                cmd = taker.command
                opposite = ASK if cmd.side is BID else BID
                maker = self.best(opposite)
                assert maker is not None
                assert maker.order_id == event.maker_order_id, "best price, then oldest"
                assert event.price == maker.price
                assert 0 < event.lots <= maker.remaining
                assert event.maker_account_id == maker.account_id
                assert event.taker_side is cmd.side
                if cmd.order_type is LIMIT:
                    assert event.price <= cmd.price if cmd.side is BID else event.price >= cmd.price  # type: ignore[operator]
                assert cmd.self_trade_prevention is ALLOW or maker.account_id != cmd.account_id, "self-trade"
                assert not cmd.post_only, "post-only took liquidity"
                self.trade_id += 1
                assert event.trade_id == self.trade_id, "consecutive trade ids"
                maker.remaining -= event.lots
                maker.executed_lots += event.lots
                maker.executed_quote += event.lots * event.price
                assert (
                    event.maker_remaining_lots,
                    event.maker_executed_lots,
                    event.maker_executed_quote,
                ) == (
                    maker.remaining,
                    maker.executed_lots,
                    maker.executed_quote,
                )
                assert maker.remaining + maker.executed_lots == maker.quantity
                if not maker.remaining:
                    del self.book[maker.order_id]
                taker.fill_lots += event.lots
                taker.fill_quote += event.lots * event.price
                self.fills_seen += 1
            elif kind is LevelChanged:
                assert event.total_lots == self.level_total(event.side, event.price)
            elif kind is OrderExpired:
                if taker is not None and event.order_id == taker.accepted.order_id:
                    taker.expired = event.reason
                else:  # a maker removed by self-trade prevention: the best order, owned by the taker
                    assert taker is not None
                    assert event.reason is ExpiryReason.SELF_TRADE_PREVENTION
                    maker = self.book.pop(event.order_id)
                    opposite = ASK if taker.command.side is BID else BID
                    assert maker.side is opposite
                    assert maker.account_id == taker.command.account_id
                    self.book[maker.order_id] = maker
                    assert self.best(opposite) is maker, "STP meets makers in priority order"
                    del self.book[maker.order_id]
                    taker.stp_makers += 1
            elif kind is OrderCancelled:
                assert isinstance(command, (CancelOrder, CancelAll))
                if event.order_id in self.book:
                    order = self.book.pop(event.order_id)
                    assert order.account_id == event.account_id == command.account_id
                    assert (event.executed_lots, event.executed_quote) == (
                        order.executed_lots,
                        order.executed_quote,
                    )
                else:
                    trigger = self.triggers.pop(event.order_id)
                    assert trigger.account_id == command.account_id
            elif kind is TriggerPlaced:
                self.triggers[event.order_id] = self.commands[event.order_id]
            elif kind is OrderTriggered:
                self.close(taker)
                taker = None
                del self.triggers[event.order_id]
            elif kind in (CancelRejected, OrderRejected):
                pass
            else:
                raise AssertionError(f"unexpected event {event!r}")
        self.close(taker)
        if isinstance(command, PlaceOrder) and command.time_in_force is FOK and command.trigger_price is None:
            outcome = [e for e in events if type(e) is OrderAccepted]
            if outcome and outcome[0].status is OrderStatus.EXPIRED:
                assert events[1:] == [
                    OrderExpired(
                        command.order_id,
                        command.account_id,
                        command.client_id,
                        ExpiryReason.FILL_OR_KILL,
                        0,
                        0,
                    )
                ]
                assert before.orders == self.snapshot_orders(), "a killed FOK leaves the book as it was"

    def close(self, taker: Taker | None) -> None:
        """Checks on one incoming order once all its events are in."""
        if taker is None:
            return
        cmd, accepted = taker.command, taker.accepted
        assert (accepted.executed_lots, accepted.executed_quote) == (taker.fill_lots, taker.fill_quote)
        if cmd.quantity is not None:
            expired_part = cmd.quantity - accepted.executed_lots - accepted.resting_lots
            assert expired_part >= 0
            if accepted.status is OrderStatus.FILLED:
                assert expired_part == 0
                assert accepted.resting_lots == 0
            elif accepted.status is OrderStatus.EXPIRED:
                assert expired_part > 0
                assert accepted.resting_lots == 0
                assert taker.expired is not None
            else:
                assert accepted.resting_lots > 0
                assert expired_part == 0
                assert accepted.status is (
                    OrderStatus.PARTIALLY_FILLED if accepted.executed_lots else OrderStatus.NEW
                )
        else:
            assert accepted.executed_quote <= cmd.quote_quantity  # type: ignore[operator]
            assert (accepted.status is OrderStatus.EXPIRED) == (taker.expired is not None)
        if cmd.quote_limit is not None:
            assert accepted.executed_quote <= cmd.quote_limit
        if cmd.time_in_force is FOK:
            assert accepted.status is OrderStatus.FILLED or (
                taker.fill_lots == 0 and taker.stp_makers == 0
            ), "FOK is all or nothing"
        if cmd.post_only:
            assert taker.fill_lots == 0

    def snapshot_orders(self) -> tuple[RestingOrder, ...]:
        def priority(order: Resting) -> tuple[int, int, int]:
            return (
                0 if order.side is BID else 1,
                -order.price if order.side is BID else order.price,
                order.arrival,
            )

        return tuple(
            RestingOrder(
                o.order_id,
                o.account_id,
                o.side,  # type: ignore[arg-type]
                o.price,
                o.quantity,
                o.remaining,
                o.executed_lots,
                o.executed_quote,
                o.client_id,
            )
            for o in sorted(self.book.values(), key=priority)
        )

    def compare(self, engine: MatchingEngine) -> None:
        snapshot = engine.snapshot()
        assert snapshot.orders == self.snapshot_orders(), "the events describe the book"
        assert {c.order_id for c in snapshot.triggers} == set(self.triggers)
        assert snapshot.trade_id == self.trade_id
        depth = engine.depth()
        if depth.best_bid is not None and depth.best_ask is not None:
            assert depth.best_bid < depth.best_ask, "crossed book"
        for side, levels in ((BID, depth.bids), (ASK, depth.asks)):
            assert all(total == self.level_total(side, price) and total > 0 for price, total in levels)
