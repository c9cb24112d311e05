"""Trigger orders: pending until the last trade price crosses them, then run in firing order."""

from __future__ import annotations

from exchange.engine.commands import limit_order, market_order
from exchange.engine.engine import MatchingEngine
from exchange.engine.enums import ASK, BID, OrderStatus, TriggerKind
from exchange.engine.events import Fill, OrderAccepted, OrderTriggered, TriggerPlaced
from exchange.engine.triggers import trigger_kind_for

from .helpers import ALICE, BOB, CAROL, MALLORY, Desk, fills, of_type

STOP = TriggerKind.STOP_LOSS
TAKE = TriggerKind.TAKE_PROFIT


def trade_at(desk: Desk, price: int, quantity: int = 1) -> list[object]:
    """Make one trade at `price` between two bystanders."""
    desk.ask(CAROL, price, quantity)
    return desk.bid(MALLORY, price, quantity)  # type: ignore[return-value]


def test_a_trigger_order_waits_as_trigger_pending():
    desk = Desk(first_id=100)
    trade_at(desk, 100)

    events = desk.place(market_order(1, ALICE, ASK, quantity=2, trigger_price=95, trigger_kind=STOP))

    assert events == [TriggerPlaced(1, ALICE, None, ASK, 95, STOP)]
    assert events[0].status is OrderStatus.TRIGGER_PENDING
    assert [c.order_id for c in desk.engine.pending_triggers()] == [1]
    assert desk.engine.depth().asks == ()


def test_ask_stop_loss_fires_when_the_last_price_falls_to_it():
    desk = Desk(first_id=100)
    trade_at(desk, 100)
    desk.place(market_order(1, ALICE, ASK, quantity=2, trigger_price=95, trigger_kind=STOP))
    desk.bid(BOB, 90, 5)

    assert of_type(trade_at(desk, 96), OrderTriggered) == []
    events = trade_at(desk, 95)

    assert of_type(events, OrderTriggered) == [OrderTriggered(1, ALICE, None, 95, 95)]
    triggered_at = events.index(of_type(events, OrderTriggered)[0])
    assert type(events[triggered_at + 1]) is OrderAccepted
    assert next(f for f in of_type(events, Fill) if f.taker_order_id == 1).price == 90
    assert desk.engine.pending_triggers() == []


def test_bid_stop_loss_fires_when_the_last_price_rises_to_it():
    desk = Desk(first_id=100)
    trade_at(desk, 100)
    desk.place(limit_order(1, ALICE, BID, 106, 2, trigger_price=105, trigger_kind=STOP))

    assert of_type(trade_at(desk, 104), OrderTriggered) == []
    events = trade_at(desk, 107)

    assert [e.order_id for e in of_type(events, OrderTriggered)] == [1]
    assert desk.engine.order(1) is not None, "the triggered limit rests below the market"
    assert desk.engine.order(1).price == 106


def test_take_profit_directions_are_the_reverse_of_stop_loss():
    desk = Desk(first_id=100)
    trade_at(desk, 100)
    desk.place(limit_order(1, ALICE, ASK, 200, 1, trigger_price=110, trigger_kind=TAKE))  # sell on a rise
    desk.place(limit_order(2, ALICE, BID, 50, 1, trigger_price=90, trigger_kind=TAKE))  # buy on a fall

    assert [e.order_id for e in of_type(trade_at(desk, 110), OrderTriggered)] == [1]
    assert [e.order_id for e in of_type(trade_at(desk, 90), OrderTriggered)] == [2]


def test_a_trigger_whose_condition_already_holds_fires_at_once():
    desk = Desk(first_id=100)
    trade_at(desk, 94)
    desk.bid(BOB, 99, 5)

    events = desk.place(market_order(1, ALICE, ASK, quantity=2, trigger_price=95, trigger_kind=STOP))

    assert [type(e) for e in events[:3]] == [TriggerPlaced, OrderTriggered, OrderAccepted]
    assert fills(events) == [(102, 99, 2)]


def test_a_trigger_placed_before_any_trade_waits_for_the_first_trade():
    desk = Desk(first_id=100)
    desk.place(limit_order(1, ALICE, BID, 500, 1, trigger_price=50, trigger_kind=STOP))

    assert desk.engine.last_price is None
    assert [e.order_id for e in of_type(trade_at(desk, 60), OrderTriggered)] == [1]


def test_triggers_crossed_by_one_sweep_run_in_crossing_order_then_placement_order():
    desk = Desk(first_id=100)
    trade_at(desk, 100)
    desk.place(limit_order(1, ALICE, BID, 1, 1, trigger_price=103, trigger_kind=STOP))
    desk.place(limit_order(2, BOB, BID, 1, 1, trigger_price=101, trigger_kind=STOP))
    desk.place(limit_order(3, ALICE, BID, 1, 1, trigger_price=103, trigger_kind=STOP))
    desk.place(limit_order(4, BOB, BID, 1, 1, trigger_price=109, trigger_kind=STOP))
    for price in (101, 102, 103, 104):
        desk.ask(CAROL, price, 1)

    events = desk.bid(MALLORY, 104, 4)

    assert [e.order_id for e in of_type(events, OrderTriggered)] == [2, 1, 3]
    assert [c.order_id for c in desk.engine.pending_triggers()] == [4]


def test_a_triggered_order_can_fire_the_next_trigger():
    desk = Desk(first_id=100)
    trade_at(desk, 100)
    desk.bid(BOB, 97, 1)
    desk.bid(BOB, 93, 5)
    # Alice's stop at 97 sells into the 97 bid ... then at 93, which fires Carol's stop at 95.
    desk.place(market_order(1, ALICE, ASK, quantity=2, trigger_price=97, trigger_kind=STOP))
    desk.place(market_order(2, CAROL, ASK, quantity=1, trigger_price=95, trigger_kind=STOP))

    events = desk.ask(MALLORY, 97, 1)  # trades with Bob's 97 bid

    assert [e.order_id for e in of_type(events, OrderTriggered)] == [1, 2]
    carol = next(e for e in of_type(events, OrderAccepted) if e.order_id == 2)
    assert carol.status is OrderStatus.FILLED
    assert desk.engine.last_price == 93


def test_a_trigger_uses_its_trigger_quantity_as_the_order_size():
    desk = Desk(first_id=100)
    trade_at(desk, 100)
    desk.ask(BOB, 101, 10)
    desk.place(market_order(1, ALICE, BID, quantity=3, trigger_price=101, trigger_kind=STOP))

    events = trade_at(desk, 101)

    alice = next(e for e in of_type(events, OrderAccepted) if e.order_id == 1)
    assert alice.executed_lots == 3


def test_trigger_kind_for_plain_trigger_price_follows_the_side_of_the_last_price():
    assert trigger_kind_for(ASK, 95, 100) is STOP  # below: waits for a fall; a sell stop
    assert trigger_kind_for(ASK, 105, 100) is TAKE
    assert trigger_kind_for(BID, 105, 100) is STOP
    assert trigger_kind_for(BID, 95, 100) is TAKE
    assert trigger_kind_for(BID, 95, None) is STOP


def test_pending_triggers_do_not_change_depth_or_update_id():
    engine = MatchingEngine()

    engine.apply(limit_order(1, ALICE, BID, 100, 1, trigger_price=90, trigger_kind=TAKE))

    assert engine.update_id == 0
    assert engine.depth().bids == ()
