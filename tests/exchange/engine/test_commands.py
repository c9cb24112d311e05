"""Commands check themselves when built; fast builders give the same frozen objects as constructors."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from exchange.engine.commands import (
    CancelAll,
    CancelOrder,
    MalformedCancelOrder,
    MalformedPlaceOrder,
    PlaceOrder,
    cancel_all,
    cancel_order,
    limit_order,
    market_order,
)
from exchange.engine.engine import MatchingEngine
from exchange.engine.enums import (
    ALLOW,
    ASK,
    BID,
    FOK,
    GTC,
    IOC,
    CancelScope,
    ExpiryReason,
    OrderStatus,
    OrderType,
    RejectReason,
    TriggerKind,
)
from exchange.engine.events import (
    Fill,
    LevelChanged,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    new_accepted,
    new_cancelled,
    new_expired,
    new_fill,
    new_level,
)

LIMIT, MARKET = OrderType.LIMIT, OrderType.MARKET


def test_factories_build_the_same_frozen_commands_as_the_constructors():
    assert limit_order(1, 2, BID, 100, 5, IOC, False, ALLOW, 7) == PlaceOrder(
        1, 2, BID, LIMIT, 5, 100, time_in_force=IOC, self_trade_prevention=ALLOW, client_id=7
    )
    assert market_order(1, 2, ASK, quote_quantity=500) == PlaceOrder(
        1, 2, ASK, MARKET, quote_quantity=500, time_in_force=IOC
    )
    assert cancel_order(3, 4) == CancelOrder(3, 4)
    assert cancel_all(4, CancelScope.TRIGGER) == CancelAll(4, CancelScope.TRIGGER)
    command = limit_order(1, 2, BID, 100, 5)
    assert type(command) is PlaceOrder
    assert hash(command) == hash(PlaceOrder(1, 2, BID, LIMIT, 5, 100))
    with pytest.raises(dataclasses.FrozenInstanceError):
        command.price = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda: limit_order(1, 2, BID, 0, 5), RejectReason.INVALID_PRICE),
        (lambda: limit_order(1, 2, BID, 100, 0), RejectReason.INVALID_QUANTITY),
        (lambda: limit_order(1, 2, BID, 100.0, 5), RejectReason.INVALID_PRICE),
        (lambda: limit_order(1, 2, BID, 100, True), RejectReason.INVALID_QUANTITY),
        (lambda: limit_order(1, 2, BID, 100, 5, IOC, True), RejectReason.INVALID_ORDER),
        (lambda: limit_order(1, 2, BID, 100, 5, "GTC"), RejectReason.INVALID_ORDER),
        (lambda: limit_order(1, 2, "Bid", 100, 5), RejectReason.INVALID_ORDER),
        (lambda: limit_order(1, 2, BID, 100, 5, self_trade_prevention="Allow"), RejectReason.INVALID_ORDER),
        (lambda: market_order(1, 2, BID), RejectReason.INVALID_QUANTITY),
        (lambda: market_order(1, 2, BID, quantity=1, quote_quantity=5), RejectReason.INVALID_ORDER),
        (lambda: market_order(1, 2, ASK, quantity=1, quote_limit=5), RejectReason.INVALID_ORDER),
        (lambda: market_order(1, 2, BID, quote_quantity=5, quote_limit=5), RejectReason.INVALID_ORDER),
        (lambda: limit_order(1, 2, BID, 100, 5, trigger_price=90), RejectReason.INVALID_ORDER),
        (
            lambda: limit_order(1, 2, BID, 100, 5, trigger_price=0, trigger_kind=TriggerKind.STOP_LOSS),
            RejectReason.INVALID_PRICE,
        ),
        (
            lambda: limit_order(1, 2, BID, 100, 5, trigger_kind=TriggerKind.STOP_LOSS),
            RejectReason.INVALID_ORDER,
        ),
        (lambda: PlaceOrder(1, 2, BID, LIMIT, 5, 100, quote_quantity=5), RejectReason.INVALID_ORDER),
        (lambda: PlaceOrder(1, 2, BID, MARKET, 5, 100), RejectReason.INVALID_ORDER),
        (lambda: PlaceOrder(1, 2, BID, MARKET, 5, post_only=True), RejectReason.INVALID_ORDER),
        (lambda: PlaceOrder(1, 2, BID, "Limit", 5, 100), RejectReason.INVALID_ORDER),
        (lambda: PlaceOrder("1", 2, BID, LIMIT, 5, 100), RejectReason.INVALID_ORDER),
    ],
)
def test_malformed_placements_are_rejected_by_the_engine_without_changing_anything(build, reason):
    command = build()
    engine = MatchingEngine()
    engine.apply(limit_order(1000, 9, ASK, 101, 1))
    before = engine.snapshot()

    events = engine.apply(command)

    assert command.rejection is reason
    assert events == [OrderRejected(command.order_id, command.account_id, command.client_id, reason)]
    assert engine.snapshot().orders == before.orders


def test_a_malformed_placement_is_its_python_twin_holding_the_fields_as_given():
    built = PlaceOrder("1", 2, BID, LIMIT, 5, 100.5)  # type: ignore[arg-type]
    assert type(built) is MalformedPlaceOrder
    assert (built.order_id, built.price, built.rejection) == ("1", 100.5, RejectReason.INVALID_PRICE)
    assert limit_order("1", 2, BID, 100.5, 5) == built
    assert type(limit_order(1, 2, BID, 0, 5)) is MalformedPlaceOrder  # right types, wrong value
    assert type(PlaceOrder(1, 2, BID, LIMIT, 5, 100)) is PlaceOrder
    assert PlaceOrder(order_id=1, account_id=2, side=BID, order_type=LIMIT, quantity=5, price=100) == (
        limit_order(1, 2, BID, 100, 5)
    )
    assert (
        dataclasses.replace(limit_order(1, 2, BID, 100, 5), price=-1).rejection is RejectReason.INVALID_PRICE
    )


def test_commands_copy_and_pickle_as_equal_commands():
    commands = [
        limit_order(1, 2, BID, 100, 5, IOC, False, ALLOW, 7),
        market_order(1, 2, ASK, quantity=5, trigger_price=90, trigger_kind=TriggerKind.TAKE_PROFIT),
        limit_order(1, 2, BID, 0, 5),
        cancel_order(3, 4),
        cancel_order("3", 4),  # type: ignore[arg-type]
        cancel_all(4, CancelScope.TRIGGER),
    ]
    for command in commands:
        pickled = pickle.loads(pickle.dumps(command))  # noqa: S301 - bytes made just above
        for twin in (copy.copy(command), copy.deepcopy(command), pickled):
            assert type(twin) is type(command)
            assert twin == command
            assert getattr(twin, "rejection", None) is getattr(command, "rejection", None)


def test_a_cancel_with_ids_of_another_type_is_looked_up_as_given():
    engine = MatchingEngine()
    engine.apply(limit_order(1, 2, ASK, 101, 1))
    command = CancelOrder("1", 2)  # type: ignore[arg-type]
    assert type(command) is MalformedCancelOrder
    assert type(cancel_order("1", 2)) is MalformedCancelOrder  # type: ignore[arg-type]
    assert [type(e).__name__ for e in engine.apply(command)] == ["CancelRejected"]
    # True equals 1 as a dict key: cancelled, as before commands were split by type.
    assert [type(e).__name__ for e in engine.apply(CancelOrder(True, 2))] == [
        "OrderCancelled",
        "LevelChanged",
    ]


def test_well_formed_variants_have_no_rejection():
    commands = [
        limit_order(1, 2, BID, 100, 5, FOK),
        limit_order(1, 2, BID, 100, 5, GTC, True),
        market_order(1, 2, BID, quantity=5, quote_limit=0),
        market_order(1, 2, ASK, quote_quantity=5, time_in_force=FOK),
        market_order(1, 2, ASK, quantity=5, trigger_price=90, trigger_kind=TriggerKind.TAKE_PROFIT),
        PlaceOrder(1, 2, BID, LIMIT, 5, 100),
    ]
    assert [c.rejection for c in commands] == [None] * len(commands)


def test_event_builders_match_the_constructors():
    pairs = [
        (new_level(BID, 100, 5), LevelChanged(BID, 100, 5)),
        (
            new_accepted(1, 2, None, BID, LIMIT, OrderStatus.NEW, 0, 0, 5),
            OrderAccepted(1, 2, None, BID, LIMIT, OrderStatus.NEW, 0, 0, 5),
        ),
        (new_fill(1, 2, 3, ASK, 5, 6, 7, 8, 9, 10, 11), Fill(1, 2, 3, ASK, 5, 6, 7, 8, 9, 10, 11)),
        (new_cancelled(1, 2, 3, 4, 5), OrderCancelled(1, 2, 3, 4, 5)),
        (
            new_expired(1, 2, 3, ExpiryReason.FILL_OR_KILL, 4, 5),
            OrderExpired(1, 2, 3, ExpiryReason.FILL_OR_KILL, 4, 5),
        ),
    ]
    for built, constructed in pairs:
        assert built == constructed
        assert type(built) is type(constructed)
        assert hash(built) == hash(constructed)
        assert repr(built) == repr(constructed)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(built, dataclasses.fields(built)[0].name, 0)
