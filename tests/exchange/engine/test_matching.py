"""Limit and market orders: price-time priority, time in force, post-only, budgets, events."""

from __future__ import annotations

from exchange.engine.commands import limit_order, market_order
from exchange.engine.enums import (
    ASK,
    BID,
    FOK,
    IOC,
    ExpiryReason,
    OrderStatus,
    OrderType,
    RejectReason,
)
from exchange.engine.events import Fill, LevelChanged, OrderAccepted, OrderExpired, OrderRejected

from .helpers import ALICE, BOB, CAROL, Desk, accepted, expiry, fills, levels, of_type


def test_a_limit_that_does_not_cross_rests_and_reports_its_level():
    desk = Desk()

    events = desk.bid(ALICE, 100, 5, client_id=42)

    assert events == [
        OrderAccepted(1, ALICE, 42, BID, OrderType.LIMIT, OrderStatus.NEW, 0, 0, 5),
        LevelChanged(BID, 100, 5),
    ]
    assert desk.engine.depth().bids == ((100, 5),)


def test_orders_at_one_price_add_up_in_the_level():
    desk = Desk()
    desk.ask(ALICE, 101, 5)

    assert levels(desk.ask(BOB, 101, 3)) == [("Ask", 101, 8)]


def test_a_taker_trades_at_the_makers_price_best_price_first():
    desk = Desk()
    desk.ask(ALICE, 102, 5)  # 1
    desk.ask(ALICE, 101, 5)  # 2
    desk.ask(ALICE, 103, 5)  # 3

    events = desk.bid(BOB, 105, 12)

    assert fills(events) == [(2, 101, 5), (1, 102, 5), (3, 103, 2)]
    assert levels(events) == [("Ask", 101, 0), ("Ask", 102, 0), ("Ask", 103, 3)]
    taker = accepted(events)
    assert (taker.status, taker.executed_lots, taker.executed_quote, taker.resting_lots) == (
        OrderStatus.FILLED,
        12,
        101 * 5 + 102 * 5 + 103 * 2,
        0,
    )


def test_within_a_price_the_oldest_order_fills_first():
    desk = Desk()
    desk.ask(ALICE, 101, 2)  # 1
    desk.ask(BOB, 101, 2)  # 2
    desk.ask(CAROL, 101, 2)  # 3

    assert fills(desk.bid(BOB + 10, 101, 3)) == [(1, 101, 2), (2, 101, 1)]
    assert fills(desk.bid(BOB + 10, 101, 3)) == [(2, 101, 1), (3, 101, 2)]


def test_a_fill_carries_both_sides_and_the_makers_new_state():
    desk = Desk()
    desk.ask(ALICE, 101, 5)

    (fill,) = of_type(desk.bid(BOB, 101, 2), Fill)

    assert fill == Fill(
        trade_id=1,
        price=101,
        lots=2,
        taker_side=BID,
        taker_order_id=2,
        taker_account_id=BOB,
        maker_order_id=1,
        maker_account_id=ALICE,
        maker_remaining_lots=3,
        maker_executed_lots=2,
        maker_executed_quote=202,
    )
    assert (fill.quote, fill.maker_is_buyer, fill.maker_status) == (202, False, OrderStatus.PARTIALLY_FILLED)
    assert (fill.buyer_order_id, fill.seller_order_id) == (2, 1)


def test_a_partly_filled_limit_rests_its_remainder_as_partially_filled():
    desk = Desk()
    desk.ask(ALICE, 101, 2)

    events = desk.bid(BOB, 101, 5)

    assert accepted(events).status is OrderStatus.PARTIALLY_FILLED
    assert accepted(events).resting_lots == 3
    assert levels(events) == [("Ask", 101, 0), ("Bid", 101, 3)]
    assert desk.engine.depth().bids == ((101, 3),)
    assert type(events[0]) is OrderAccepted, "OrderAccepted comes first, as on Backpack's stream"


def test_a_limit_does_not_trade_through_its_price():
    desk = Desk()
    desk.ask(ALICE, 101, 2)
    desk.ask(ALICE, 103, 2)

    events = desk.bid(BOB, 102, 5)

    assert fills(events) == [(1, 101, 2)]
    assert desk.engine.depth().asks == ((103, 2),)
    assert desk.engine.depth().bids == ((102, 3),)


def test_ioc_fills_what_it_can_and_expires_the_rest():
    desk = Desk()
    desk.ask(ALICE, 101, 2)

    events = desk.bid(BOB, 101, 5, tif=IOC)

    assert fills(events) == [(1, 101, 2)]
    assert expiry(events) == [(2, "ImmediateOrCancel")]
    assert accepted(events).status is OrderStatus.EXPIRED
    assert desk.engine.depth().bids == ()


def test_ioc_against_nothing_expires_without_changing_the_book():
    desk = Desk()
    desk.ask(ALICE, 105, 2)
    before = desk.engine.snapshot()

    events = desk.bid(BOB, 101, 5, tif=IOC)

    assert expiry(events) == [(2, "ImmediateOrCancel")]
    assert desk.engine.snapshot().orders == before.orders


def test_fok_fills_entirely_across_levels():
    desk = Desk()
    desk.ask(ALICE, 101, 2)
    desk.ask(BOB, 102, 3)

    events = desk.bid(CAROL, 102, 5, tif=FOK)

    assert fills(events) == [(1, 101, 2), (2, 102, 3)]
    assert accepted(events).status is OrderStatus.FILLED


def test_fok_that_cannot_fill_entirely_kills_and_changes_nothing():
    desk = Desk()
    desk.ask(ALICE, 101, 2)
    desk.ask(BOB, 103, 3)  # beyond the limit price
    before = desk.engine.snapshot()

    events = desk.bid(CAROL, 102, 5, tif=FOK)

    assert fills(events) == []
    assert expiry(events) == [(3, "FillOrKill")]
    assert desk.engine.snapshot().orders == before.orders
    assert desk.engine.trade_id == 0


def test_post_only_rests_when_it_does_not_cross():
    desk = Desk()
    desk.ask(ALICE, 101, 2)

    events = desk.bid(BOB, 100, 5, post_only=True)

    assert accepted(events).status is OrderStatus.NEW
    assert desk.engine.depth().bids == ((100, 5),)


def test_post_only_that_would_take_expires_and_trades_nothing():
    desk = Desk()
    desk.ask(ALICE, 101, 2)
    before = desk.engine.snapshot()

    events = desk.bid(BOB, 101, 5, post_only=True)

    assert fills(events) == []
    assert expiry(events) == [(2, "PostOnlyTaker")]
    assert desk.engine.snapshot().orders == before.orders


def test_market_order_by_quantity_sweeps_and_never_rests():
    desk = Desk()
    desk.bid(ALICE, 99, 2)
    desk.bid(ALICE, 98, 2)

    events = desk.market(BOB, ASK, quantity=5)

    assert fills(events) == [(1, 99, 2), (2, 98, 2)]
    assert expiry(events) == [(3, "ImmediateOrCancel")]
    assert accepted(events).executed_lots == 4
    assert desk.engine.depth().asks == ()


def test_market_order_against_an_empty_book_expires():
    desk = Desk()

    events = desk.market(BOB, BID, quantity=5)

    assert [type(e) for e in events] == [OrderAccepted, OrderExpired]
    assert accepted(events).status is OrderStatus.EXPIRED
    assert desk.engine.depth().bids == desk.engine.depth().asks == ()


def test_market_order_by_quote_spends_at_most_its_budget():
    desk = Desk()
    desk.ask(ALICE, 100, 3)
    desk.ask(ALICE, 110, 5)

    # 3 lots at 100 = 300, then 2 lots at 110 = 220; a third lot at 110 would pass 550.
    events = desk.market(BOB, BID, quote_quantity=550)

    assert fills(events) == [(1, 100, 3), (2, 110, 2)]
    taker = accepted(events)
    assert (taker.status, taker.executed_lots, taker.executed_quote) == (OrderStatus.FILLED, 5, 520)
    assert expiry(events) == []


def test_market_order_by_quote_that_runs_out_of_book_expires():
    desk = Desk()
    desk.ask(ALICE, 100, 3)

    events = desk.market(BOB, BID, quote_quantity=1000)

    assert accepted(events).executed_quote == 300
    assert expiry(events) == [(2, "ImmediateOrCancel")]


def test_market_ask_by_quote_receives_at_most_its_budget():
    desk = Desk()
    desk.bid(ALICE, 100, 10)

    events = desk.market(BOB, ASK, quote_quantity=250)

    assert fills(events) == [(1, 100, 2)]
    assert accepted(events).status is OrderStatus.FILLED


def test_market_by_quote_too_small_for_one_lot_expires_for_funds():
    desk = Desk()
    desk.ask(ALICE, 100, 3)

    events = desk.market(BOB, BID, quote_quantity=99)

    assert fills(events) == []
    assert expiry(events) == [(2, "InsufficientFunds")]


def test_market_bid_stops_at_the_reserved_quote_and_expires_for_funds():
    desk = Desk()
    desk.ask(ALICE, 100, 2)
    desk.ask(ALICE, 120, 5)

    # 200 at 100, then 120 per lot: 2 more lots fit 450, the third would not.
    events = desk.market(BOB, BID, quantity=6, quote_limit=450)

    assert fills(events) == [(1, 100, 2), (2, 120, 2)]
    assert expiry(events) == [(3, "InsufficientFunds")]
    assert accepted(events).executed_quote == 440
    assert desk.engine.depth().asks == ((120, 3),)


def test_market_bid_within_its_reserved_quote_fills():
    desk = Desk()
    desk.ask(ALICE, 100, 2)

    events = desk.market(BOB, BID, quantity=2, quote_limit=200)

    assert accepted(events).status is OrderStatus.FILLED


def test_a_duplicate_order_id_is_rejected_and_changes_nothing():
    desk = Desk()
    desk.place(limit_order(7, ALICE, BID, 100, 5))
    before = desk.engine.snapshot()

    events = desk.place(limit_order(7, BOB, ASK, 90, 5))

    assert events == [OrderRejected(7, BOB, None, RejectReason.DUPLICATE_ORDER_ID)]
    assert desk.engine.snapshot().orders == before.orders


def test_client_id_is_echoed_on_acceptance_and_expiry():
    desk = Desk()

    events = desk.market(BOB, BID, quantity=1, client_id=4242)

    assert accepted(events).client_id == 4242
    assert of_type(events, OrderExpired)[0].client_id == 4242


def test_market_order_reports_market_type():
    desk = Desk()
    desk.ask(ALICE, 100, 1)

    events = desk.place(market_order(9, BOB, BID, quantity=1))

    assert accepted(events).order_type is OrderType.MARKET
    assert [type(e) for e in events] == [OrderAccepted, Fill, LevelChanged]


def test_a_fill_that_empties_one_level_and_stops_in_the_next_reports_both():
    desk = Desk()
    desk.ask(ALICE, 101, 1)
    desk.ask(ALICE, 102, 4)

    events = desk.bid(BOB, 102, 3)

    assert [type(e) for e in events] == [OrderAccepted, Fill, LevelChanged, Fill, LevelChanged]
    assert levels(events) == [("Ask", 101, 0), ("Ask", 102, 2)]


def test_expiry_reasons_use_backpacks_names():
    assert {str(reason) for reason in ExpiryReason} == {
        "FillOrKill",
        "ImmediateOrCancel",
        "PostOnlyTaker",
        "SelfTradePrevention",
        "InsufficientFunds",
    }
    assert {str(status) for status in OrderStatus} == {
        "New",
        "PartiallyFilled",
        "Filled",
        "Cancelled",
        "Expired",
        "TriggerPending",
        "TriggerFailed",
    }
