"""Property tests: random command streams against the event-driven model in `model.py`.

Streams mix every command the engine knows over three accounts and a narrow price band, so orders
cross, self-trade, cascade triggers and cancel each other often. Hypothesis runs derandomized
(seeded from the test), so a failure reproduces on every run.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.engine.commands import (
    CancelScope,
    Command,
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
    REJECT_BOTH,
    REJECT_MAKER,
    REJECT_TAKER,
    TriggerKind,
)
from exchange.engine.events import Fill

from .model import Model

ACCOUNTS = st.integers(1, 3)
SIDES = st.sampled_from([BID, ASK])
PRICES = st.integers(95, 105)
LOTS = st.integers(1, 8)
STP = st.sampled_from([REJECT_TAKER, REJECT_MAKER, REJECT_BOTH, ALLOW])
KINDS = st.sampled_from([TriggerKind.STOP_LOSS, TriggerKind.TAKE_PROFIT])

LIMITS = st.tuples(
    st.just("limit"), ACCOUNTS, SIDES, PRICES, LOTS, st.sampled_from([GTC, GTC, GTC, IOC, FOK]), STP
)
ACTIONS = st.one_of(
    LIMITS,
    st.tuples(st.just("post_only"), ACCOUNTS, SIDES, PRICES, LOTS, STP),
    st.tuples(st.just("market"), ACCOUNTS, SIDES, LOTS, STP, st.one_of(st.none(), st.integers(0, 900))),
    st.tuples(
        st.just("market_quote"), ACCOUNTS, SIDES, st.integers(50, 1500), STP, st.sampled_from([IOC, FOK])
    ),
    st.tuples(st.just("trigger"), ACCOUNTS, SIDES, PRICES, KINDS, st.one_of(st.none(), PRICES), LOTS, STP),
    st.tuples(st.just("cancel"), ACCOUNTS, st.integers(0, 200), st.booleans()),
    st.tuples(st.just("cancel_all"), ACCOUNTS, st.sampled_from(list(CancelScope))),
    st.tuples(st.just("duplicate"), ACCOUNTS, st.integers(0, 200)),
)
# Half the actions are plain limit orders, so books build up and later orders have something to hit.
WEIGHTED = st.one_of(LIMITS, ACTIONS)


def build(actions: list[tuple]) -> list[Command]:  # type: ignore[type-arg]
    """Turn drawn actions into commands with fresh order ids (1, 2, ...)."""
    commands: list[Command] = []
    placed: list[tuple[int, int]] = []  # (order id, account)
    for action in actions:
        kind, account = action[0], action[1]
        order_id = len(placed) + 1
        if kind == "limit":
            _, _, side, price, lots, tif, stp = action
            commands.append(limit_order(order_id, account, side, price, lots, tif, False, stp))
        elif kind == "post_only":
            _, _, side, price, lots, stp = action
            commands.append(limit_order(order_id, account, side, price, lots, GTC, True, stp))
        elif kind == "market":
            _, _, side, lots, stp, quote_limit = action
            commands.append(
                market_order(
                    order_id, account, side, lots, None, quote_limit if side is BID else None, IOC, stp
                )
            )
        elif kind == "market_quote":
            _, _, side, quote, stp, tif = action
            commands.append(market_order(order_id, account, side, None, quote, None, tif, stp))
        elif kind == "trigger":
            _, _, side, trigger, trigger_kind, price, lots, stp = action
            if price is None:
                commands.append(
                    market_order(
                        order_id, account, side, lots, None, None, IOC, stp, None, trigger, trigger_kind
                    )
                )
            else:
                commands.append(
                    limit_order(
                        order_id, account, side, price, lots, GTC, False, stp, None, trigger, trigger_kind
                    )
                )
        elif kind == "cancel":
            _, _, pick, own = action
            if placed:
                target, owner = placed[pick % len(placed)]
                commands.append(cancel_order(target, owner if own else account))
            continue
        elif kind == "cancel_all":
            commands.append(cancel_all(account, action[2]))
            continue
        else:  # reuse an existing id: rejected if that order is still open
            if placed:
                target, _ = placed[action[2] % len(placed)]
                commands.append(limit_order(target, account, BID, 100, 1))
            continue
        placed.append((order_id, account))
    return commands


STREAMS = st.lists(WEIGHTED, min_size=20, max_size=60).map(build)
SETTINGS = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@SETTINGS
@given(STREAMS)
def test_every_command_keeps_the_invariants_and_the_events_describe_the_book(commands):
    engine = MatchingEngine()
    model = Model()
    for command in commands:
        model.apply(engine, command)


@SETTINGS
@given(STREAMS)
def test_replaying_the_same_commands_gives_the_same_events_and_book(commands):
    first, second = MatchingEngine(), MatchingEngine()

    assert [first.apply(c) for c in commands] == [second.apply(c) for c in commands]
    assert first.snapshot() == second.snapshot()
    assert first.depth() == second.depth()


@SETTINGS
@given(STREAMS, st.data())
def test_restoring_a_snapshot_and_continuing_equals_never_stopping(commands, data):
    cut = data.draw(st.integers(0, len(commands)))
    straight = MatchingEngine()
    straight_events = [straight.apply(c) for c in commands]

    before = MatchingEngine()
    for command in commands[:cut]:
        before.apply(command)
    restored = MatchingEngine.restore(before.snapshot())

    assert [restored.apply(c) for c in commands[cut:]] == straight_events[cut:]
    assert restored.snapshot() == straight.snapshot()


@SETTINGS
@given(STREAMS)
def test_quantity_is_conserved_over_the_whole_stream(commands):
    engine = MatchingEngine()
    bought: dict[int, int] = {}
    sold: dict[int, int] = {}
    placements = Counter(c.order_id for c in commands if isinstance(c, PlaceOrder))
    for command in commands:
        for event in engine.apply(command):
            if type(event) is Fill:
                buyer, seller = event.buyer_order_id, event.seller_order_id
                bought[buyer] = bought.get(buyer, 0) + event.lots
                sold[seller] = sold.get(seller, 0) + event.lots
    assert sum(bought.values()) == sum(sold.values())
    resting = engine.snapshot().orders
    for order in resting:
        if placements[order.order_id] > 1:  # the id was reused after the first order closed
            continue
        traded = bought.get(order.order_id, 0) + sold.get(order.order_id, 0)
        assert traded == order.executed_lots == order.quantity - order.remaining
