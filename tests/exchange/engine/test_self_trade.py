"""Self-trade prevention: the taker's rule decides what happens when it meets its own order."""

from __future__ import annotations

from exchange.engine.enums import ALLOW, FOK, REJECT_BOTH, REJECT_MAKER, REJECT_TAKER, OrderStatus
from exchange.engine.events import Fill, OrderExpired

from .helpers import ALICE, BOB, Desk, accepted, expiry, fills, levels, of_type


def book_with_alice_between_bob() -> Desk:
    desk = Desk()
    desk.ask(BOB, 101, 2)  # 1
    desk.ask(ALICE, 101, 3)  # 2
    desk.ask(BOB, 102, 4)  # 3
    return desk


def test_reject_taker_expires_the_taker_at_its_own_order_and_leaves_the_maker():
    desk = book_with_alice_between_bob()

    events = desk.bid(ALICE, 102, 6, stp=REJECT_TAKER)

    assert fills(events) == [(1, 101, 2)]
    assert expiry(events) == [(4, "SelfTradePrevention")]
    assert accepted(events).status is OrderStatus.EXPIRED
    assert desk.engine.order(2) is not None
    assert desk.engine.depth().asks == ((101, 3), (102, 4))


def test_reject_maker_expires_the_resting_order_and_keeps_matching():
    desk = book_with_alice_between_bob()

    events = desk.bid(ALICE, 102, 6, stp=REJECT_MAKER)

    assert fills(events) == [(1, 101, 2), (3, 102, 4)]
    assert expiry(events) == [(2, "SelfTradePrevention")]
    maker = of_type(events, OrderExpired)[0]
    assert (maker.account_id, maker.executed_lots, maker.status) == (ALICE, 0, OrderStatus.EXPIRED)
    assert accepted(events).status is OrderStatus.FILLED
    assert levels(events) == [("Ask", 101, 0), ("Ask", 102, 0)]
    assert desk.engine.order(2) is None


def test_reject_both_expires_maker_and_taker():
    desk = book_with_alice_between_bob()

    events = desk.bid(ALICE, 102, 6, stp=REJECT_BOTH)

    assert fills(events) == [(1, 101, 2)]
    assert expiry(events) == [(2, "SelfTradePrevention"), (4, "SelfTradePrevention")]
    assert desk.engine.depth().asks == ((102, 4),)


def test_allow_trades_with_itself():
    desk = book_with_alice_between_bob()

    events = desk.bid(ALICE, 101, 5, stp=ALLOW)

    assert fills(events) == [(1, 101, 2), (2, 101, 3)]
    assert [f.maker_account_id for f in of_type(events, Fill)] == [BOB, ALICE]


def test_reject_maker_on_the_only_order_of_a_level_removes_the_level():
    desk = Desk()
    desk.ask(ALICE, 101, 3)
    desk.ask(BOB, 102, 1)

    events = desk.bid(ALICE, 101, 2, stp=REJECT_MAKER)

    assert fills(events) == []
    assert levels(events) == [("Ask", 101, 0), ("Bid", 101, 2)]
    assert accepted(events).status is OrderStatus.NEW


def test_reject_taker_on_the_first_maker_changes_nothing_on_the_book():
    desk = Desk()
    desk.ask(ALICE, 101, 3)
    before = desk.engine.snapshot()

    events = desk.bid(ALICE, 101, 2, stp=REJECT_TAKER)

    assert levels(events) == []
    assert desk.engine.snapshot().orders == before.orders
    assert desk.engine.update_id == before.update_id, "no depth change, no update id"


def test_fok_counts_only_what_stp_lets_it_take():
    desk = book_with_alice_between_bob()  # 2 Bob, then 3 Alice at 101; 4 Bob at 102
    before = desk.engine.snapshot()

    killed = desk.bid(ALICE, 102, 7, tif=FOK, stp=REJECT_MAKER)  # 2 + 4 = 6 < 7

    assert expiry(killed) == [(4, "FillOrKill")]
    assert desk.engine.snapshot().orders == before.orders, "no maker is expired for a killed FOK"

    filled = desk.bid(ALICE, 102, 6, tif=FOK, stp=REJECT_MAKER)

    assert fills(filled) == [(1, 101, 2), (3, 102, 4)]
    assert expiry(filled) == [(2, "SelfTradePrevention")]


def test_fok_with_reject_taker_is_killed_by_its_own_order_in_the_way():
    desk = book_with_alice_between_bob()
    before = desk.engine.snapshot()

    events = desk.bid(ALICE, 102, 2, tif=FOK, stp=REJECT_TAKER)  # Bob's 2 lots suffice: no self-trade
    assert fills(events) == [(1, 101, 2)]

    events = desk.bid(ALICE, 102, 3, tif=FOK, stp=REJECT_BOTH)  # would reach Alice's own order
    assert expiry(events) == [(5, "FillOrKill")]
    assert desk.engine.order(2) is not None
    assert desk.engine.snapshot().orders[0] == before.orders[1]
