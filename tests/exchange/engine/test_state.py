"""Counters, depth, snapshots and restore: what a worker needs to publish and to restart."""

from __future__ import annotations

import pytest

from exchange.engine.commands import cancel_order, limit_order, market_order
from exchange.engine.engine import MatchingEngine, SnapshotError
from exchange.engine.enums import ASK, BID, TriggerKind
from exchange.engine.events import ApplyResult, Fill
from exchange.engine.state import Depth, RestingOrder, Snapshot

from .helpers import ALICE, BOB, CAROL, MALLORY, Desk, of_type


def test_every_command_gets_the_next_sequence_and_only_book_changes_get_an_update_id():
    engine = MatchingEngine()

    results = engine.run(
        [
            limit_order(1, ALICE, BID, 100, 5),  # rests: depth changes
            cancel_order(99, ALICE),  # rejected: nothing changes
            limit_order(2, BOB, ASK, 100, 2),  # trades
            market_order(3, CAROL, BID, quantity=1),  # empty asks: expires, no change
            limit_order(4, BOB, ASK, 120, 1, trigger_price=90, trigger_kind=TriggerKind.STOP_LOSS),
        ]
    )

    assert [(r.sequence, r.update_id) for r in results] == [(1, 1), (2, None), (3, 2), (4, None), (5, None)]
    assert all(type(r) is ApplyResult and type(r.events) is tuple for r in results)
    assert (engine.sequence, engine.update_id, engine.trade_id) == (5, 2, 1)


def test_trade_ids_are_consecutive_across_commands():
    desk = Desk()
    desk.ask(ALICE, 101, 1)
    desk.ask(ALICE, 102, 1)
    desk.ask(ALICE, 103, 1)

    first = of_type(desk.bid(BOB, 102, 2), Fill)
    second = of_type(desk.bid(BOB, 103, 1), Fill)

    assert [f.trade_id for f in first + second] == [1, 2, 3]


def test_counters_resume_from_given_values():
    engine = MatchingEngine(sequence=41, update_id=900, trade_id=7000, last_price=100)
    engine.apply(limit_order(1, ALICE, ASK, 100, 1))

    events = engine.apply(limit_order(2, BOB, BID, 100, 1))

    assert (engine.sequence, engine.update_id) == (43, 902)
    assert of_type(events, Fill)[0].trade_id == 7001


def test_depth_aggregates_levels_best_first_and_honours_the_limit():
    desk = Desk()
    for price, quantity in ((99, 1), (100, 2), (98, 3), (100, 4)):
        desk.bid(ALICE, price, quantity)
    for price, quantity in ((103, 1), (101, 2), (102, 3)):
        desk.ask(BOB, price, quantity)
    desk.ask(CAROL, 100, 1)  # trades: last price 100

    assert desk.engine.depth() == Depth(
        bids=((100, 5), (99, 1), (98, 3)),
        asks=((101, 2), (102, 3), (103, 1)),
        best_bid=100,
        best_ask=101,
        last_price=100,
        update_id=desk.engine.update_id,
    )
    assert desk.engine.depth(2).bids == ((100, 5), (99, 1))
    assert desk.engine.depth(0).asks == ()


def test_snapshot_lists_resting_orders_in_priority_order_with_their_state():
    desk = Desk()
    desk.bid(ALICE, 99, 1)  # 1
    desk.bid(BOB, 100, 2, client_id=5)  # 2
    desk.bid(CAROL, 100, 3)  # 3
    desk.ask(ALICE, 101, 4)  # 4
    desk.ask(MALLORY, 100, 1)  # 5: takes 1 from order 2

    snapshot = desk.engine.snapshot()

    assert snapshot.orders == (
        RestingOrder(2, BOB, BID, 100, 2, 1, 1, 100, 5),
        RestingOrder(3, CAROL, BID, 100, 3, 3, 0, 0, None),
        RestingOrder(1, ALICE, BID, 99, 1, 1, 0, 0, None),
        RestingOrder(4, ALICE, ASK, 101, 4, 4, 0, 0, None),
    )
    assert (snapshot.sequence, snapshot.trade_id, snapshot.last_price) == (5, 1, 100)


def test_restore_then_continue_equals_never_stopping():
    commands = [
        limit_order(1, ALICE, BID, 99, 5),
        limit_order(2, BOB, BID, 100, 2),
        limit_order(3, CAROL, ASK, 103, 4),
        limit_order(4, ALICE, ASK, 101, 3, trigger_price=98, trigger_kind=TriggerKind.STOP_LOSS),
        limit_order(5, BOB, ASK, 100, 1),
        market_order(6, CAROL, ASK, quantity=2),
        cancel_order(3, CAROL),
        limit_order(7, ALICE, BID, 104, 9),
        market_order(8, BOB, ASK, quantity=20),
    ]
    straight = MatchingEngine()
    straight_events = [straight.apply(c) for c in commands]

    for cut in range(len(commands) + 1):
        first = MatchingEngine()
        for command in commands[:cut]:
            first.apply(command)
        restored = MatchingEngine.restore(first.snapshot())
        rest_events = [restored.apply(c) for c in commands[cut:]]
        assert rest_events == straight_events[cut:], cut
        assert restored.snapshot() == straight.snapshot(), cut


def test_restore_from_database_rows():
    snapshot = Snapshot(
        sequence=10,
        update_id=20,
        trade_id=30,
        last_price=100,
        orders=(
            RestingOrder(1, ALICE, BID, 99, 5, 5),
            RestingOrder(3, BOB, ASK, 101, 4, 1, 3, 303),
            RestingOrder(2, CAROL, BID, 99, 2, 2),
        ),
        triggers=(limit_order(4, ALICE, ASK, 90, 1, trigger_price=95, trigger_kind=TriggerKind.STOP_LOSS),),
    )

    engine = MatchingEngine.restore(snapshot)

    assert engine.depth().bids == ((99, 7),)
    assert engine.depth().asks == ((101, 1),)
    assert [c.order_id for c in engine.pending_triggers()] == [4]
    fills = of_type(engine.apply(market_order(5, BOB, ASK, quantity=6)), Fill)
    assert [(f.trade_id, f.maker_order_id, f.lots) for f in fills] == [(31, 1, 5), (32, 2, 1)]
    assert engine.sequence == 11


@pytest.mark.parametrize(
    ("orders", "message"),
    [
        ((RestingOrder(1, ALICE, BID, 100, 5, 5), RestingOrder(1, BOB, ASK, 101, 5, 5)), "twice"),
        ((RestingOrder(1, ALICE, BID, 100, 5, 5), RestingOrder(2, BOB, ASK, 100, 5, 5)), "cross"),
        ((RestingOrder(1, ALICE, BID, 100, 5, 0),), "sizes"),
        ((RestingOrder(1, ALICE, BID, 100, 5, 4, 2, 200),), "sizes"),
        ((RestingOrder(1, ALICE, BID, 99, 5, 5), RestingOrder(2, BOB, BID, 100, 5, 5)), "priority"),
    ],
)
def test_restore_refuses_a_snapshot_that_is_not_a_real_book(orders, message):
    with pytest.raises(SnapshotError, match=message):
        MatchingEngine.restore(Snapshot(0, 0, 0, None, orders))


def test_restore_refuses_a_trigger_that_should_already_have_fired():
    trigger = limit_order(1, ALICE, ASK, 90, 1, trigger_price=95, trigger_kind=TriggerKind.STOP_LOSS)

    with pytest.raises(SnapshotError, match="fired"):
        MatchingEngine.restore(Snapshot(0, 0, 0, 94, (), (trigger,)))


def test_open_orders_and_order_lookup():
    desk = Desk()
    desk.bid(ALICE, 99, 1)
    desk.bid(BOB, 98, 1)
    desk.ask(ALICE, 101, 2)

    assert [o.order_id for o in desk.engine.open_orders(ALICE)] == [1, 3]
    assert desk.engine.order(2) == RestingOrder(2, BOB, BID, 98, 1, 1)
    assert desk.engine.order(77) is None
