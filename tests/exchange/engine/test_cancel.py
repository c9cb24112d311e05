"""Cancelling one order or all of an account's orders; other accounts' orders stay untouchable."""

from __future__ import annotations

from exchange.engine.commands import cancel_all, limit_order
from exchange.engine.enums import ASK, BID, CancelRejectReason, CancelScope, TriggerKind
from exchange.engine.events import CancelRejected, Fill, LevelChanged, OrderCancelled

from .helpers import ALICE, BOB, MALLORY, Desk, of_type


def test_the_owner_cancels_a_resting_order():
    desk = Desk()
    desk.bid(ALICE, 100, 5, client_id=9)
    desk.bid(BOB, 100, 2)

    events = desk.cancel(1, ALICE)

    assert events == [OrderCancelled(1, ALICE, 9, 0, 0), LevelChanged(BID, 100, 2)]
    assert events[0].status == "Cancelled"
    assert desk.engine.depth().bids == ((100, 2),)


def test_cancelling_the_last_order_of_a_level_removes_the_level():
    desk = Desk()
    desk.bid(ALICE, 100, 5)
    desk.bid(ALICE, 99, 5)

    assert of_type(desk.cancel(1, ALICE), LevelChanged) == [LevelChanged(BID, 100, 0)]
    assert desk.engine.depth().bids == ((99, 5),)
    assert desk.engine.depth().best_bid == 99


def test_a_cancelled_partly_filled_order_reports_what_it_executed():
    desk = Desk()
    desk.ask(ALICE, 101, 5)
    desk.bid(BOB, 101, 2)

    (cancelled,) = of_type(desk.cancel(1, ALICE), OrderCancelled)

    assert (cancelled.executed_lots, cancelled.executed_quote) == (2, 202)


def test_another_account_cannot_cancel_and_learns_nothing():
    desk = Desk()
    desk.bid(ALICE, 100, 5)
    before = desk.engine.snapshot()

    events = desk.cancel(1, MALLORY)

    assert events == [CancelRejected(1, MALLORY, CancelRejectReason.NOT_FOUND)]
    assert desk.cancel(999, MALLORY) == [CancelRejected(999, MALLORY, CancelRejectReason.NOT_FOUND)]
    after = desk.engine.snapshot()
    assert (after.orders, after.update_id, after.trade_id) == (
        before.orders,
        before.update_id,
        before.trade_id,
    )


def test_a_filled_order_cannot_be_cancelled():
    desk = Desk()
    desk.ask(ALICE, 101, 5)
    desk.bid(BOB, 101, 5)

    assert of_type(desk.cancel(1, ALICE), CancelRejected)


def test_a_cancelled_order_no_longer_trades_and_fifo_holds_for_the_rest():
    desk = Desk()
    desk.ask(ALICE, 101, 1)  # 1
    desk.ask(BOB, 101, 1)  # 2
    desk.ask(ALICE, 101, 1)  # 3
    desk.cancel(2, BOB)

    events = desk.bid(MALLORY, 101, 2)

    assert [f.maker_order_id for f in of_type(events, Fill)] == [1, 3]


def test_cancel_all_removes_only_that_accounts_orders_by_order_id():
    desk = Desk()
    desk.bid(ALICE, 100, 1)  # 1
    desk.ask(ALICE, 105, 2)  # 2
    desk.bid(BOB, 100, 3)  # 3
    desk.bid(ALICE, 99, 4)  # 4
    desk.place(limit_order(5, ALICE, ASK, 120, 1, trigger_price=90, trigger_kind=TriggerKind.STOP_LOSS))

    events = desk.engine.apply(cancel_all(ALICE))

    assert [e.order_id for e in of_type(events, OrderCancelled)] == [1, 2, 4, 5]
    assert of_type(events, LevelChanged) == [
        LevelChanged(BID, 100, 3),
        LevelChanged(BID, 99, 0),
        LevelChanged(ASK, 105, 0),
    ]
    assert desk.engine.open_orders(ALICE) == []
    assert desk.engine.pending_triggers() == []
    assert [o.order_id for o in desk.engine.open_orders(BOB)] == [3]


def test_cancel_all_can_keep_triggers_or_keep_resting_orders():
    desk = Desk()
    desk.bid(ALICE, 100, 1)
    desk.place(limit_order(2, ALICE, ASK, 120, 1, trigger_price=90, trigger_kind=TriggerKind.STOP_LOSS))

    only_resting = desk.engine.apply(cancel_all(ALICE, CancelScope.RESTING_LIMIT))
    assert [e.order_id for e in of_type(only_resting, OrderCancelled)] == [1]
    assert [c.order_id for c in desk.engine.pending_triggers()] == [2]

    desk.place(limit_order(3, ALICE, BID, 100, 1))
    only_triggers = desk.engine.apply(cancel_all(ALICE, CancelScope.TRIGGER))
    assert [e.order_id for e in of_type(only_triggers, OrderCancelled)] == [2]
    assert len(desk.engine.open_orders(ALICE)) == 1


def test_cancel_all_with_nothing_open_changes_nothing():
    desk = Desk()
    desk.bid(BOB, 100, 1)
    update_id = desk.engine.update_id

    assert desk.engine.apply(cancel_all(ALICE)) == []
    assert desk.engine.update_id == update_id


def test_the_owner_cancels_a_pending_trigger():
    desk = Desk()
    desk.place(limit_order(1, ALICE, ASK, 95, 1, trigger_price=96, trigger_kind=TriggerKind.STOP_LOSS))

    assert desk.cancel(1, MALLORY) == [CancelRejected(1, MALLORY, CancelRejectReason.NOT_FOUND)]
    assert desk.cancel(1, ALICE) == [OrderCancelled(1, ALICE, None, 0, 0)]
    assert desk.engine.pending_triggers() == []
