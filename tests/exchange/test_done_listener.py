"""A web process's shared subscription to "command done" notices (exchange/services/done_listener.py):
a REST call waiting for the matching worker sleeps on a future the process's event loop resolves,
instead of a Redis `BLPOP` of its own. Against the suite's real Redis; the market ids are made up
(only Redis keys and the notice channel are involved).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from exchange.models import Market, Order, OrderStatus
from exchange.services import done_listener, doorbell
from exchange.services.deposits import deposit_credit
from exchange.services.matching import market_drain
from exchange.services.orders import order_place
from tests.factories.orders import limit_request as _limit

MARKET = 990_001


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop in its own thread, as uvicorn's, with the listener started on it."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> None:
        done_listener.done_listener_start()

    asyncio.run_coroutine_threadsafe(start(), loop).result(5)
    _until(lambda: done_listener.done_listener_ready() is not None)
    yield loop
    listener = done_listener._listener
    assert listener is not None
    loop.call_soon_threadsafe(listener.stop)
    time.sleep(0.05)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()
    done_listener._listener = None


def _until(condition, seconds: float = 5) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _notify_later(sequences: list[int], delay: float) -> threading.Thread:
    def notify() -> None:
        time.sleep(delay)
        doorbell.command_done_notify(market_id=MARKET, sequences=sequences)

    thread = threading.Thread(target=notify)
    thread.start()
    return thread


def _clear(*sequences: int) -> None:
    doorbell._redis().delete(*(doorbell._done_key(MARKET, sequence) for sequence in sequences))


def test_a_waiter_wakes_on_the_shared_subscription(loop):
    _clear(1, 2)
    notifier = _notify_later([1, 2], delay=0.1)
    started = time.monotonic()

    assert doorbell.command_done_wait(market_id=MARKET, sequence=2, timeout=10) is True
    notifier.join()

    # Far below the timeout (a loaded machine may pause a second or two): woken by the notice.
    assert time.monotonic() - started < 5
    # Woken by the notice, not by a BLPOP: the per-command key is still there, unread.
    assert doorbell._redis().llen(doorbell._done_key(MARKET, 2)) == 1
    assert done_listener._listener._waiting == {}


def test_a_notice_that_comes_before_the_wait_still_counts(loop):
    _clear(3)
    doorbell.command_done_notify(market_id=MARKET, sequences=[3])
    listener = done_listener._listener
    _until(lambda: (MARKET, 3) in listener._recent)
    doorbell._redis().delete(doorbell._done_key(MARKET, 3))  # a BLPOP would now wait in vain

    assert doorbell.command_done_wait(market_id=MARKET, sequence=3, timeout=3) is True
    assert (MARKET, 3) not in listener._recent


def test_no_notice_means_false_after_the_wait_and_nothing_left_behind(loop):
    started = time.monotonic()

    assert doorbell.command_done_wait(market_id=MARKET, sequence=4, timeout=0.2) is False

    assert 0.2 <= time.monotonic() - started < 3  # at the timeout, give or take a loaded machine
    _until(lambda: done_listener._listener._waiting == {})


def test_a_lost_subscription_answers_waiters_at_once_then_comes_back(loop, monkeypatch):
    monkeypatch.setattr(done_listener, "RECONNECT_SECONDS", 0.05)
    listener = done_listener._listener
    answer: list[bool] = []
    waiter = threading.Thread(
        target=lambda: answer.append(doorbell.command_done_wait(market_id=MARKET, sequence=5, timeout=60))
    )
    waiter.start()
    _until(lambda: (MARKET, 5) in listener._waiting)
    started = time.monotonic()

    doorbell._redis().client_kill_filter(_type="pubsub")
    waiter.join(30)

    assert answer == [False]  # the order is answered as accepted rather than after 60 s
    assert time.monotonic() - started < 10
    _until(lambda: listener.ready)  # subscribed again
    _clear(6)
    notifier = _notify_later([6], delay=0.1)
    assert doorbell.command_done_wait(market_id=MARKET, sequence=6, timeout=3) is True
    notifier.join()


def test_without_a_listener_the_wait_is_a_blpop_of_its_own():
    assert done_listener.done_listener_ready() is None
    _clear(7)
    doorbell.command_done_notify(market_id=MARKET, sequences=[7])

    assert doorbell.command_done_wait(market_id=MARKET, sequence=7, timeout=1) is True
    assert doorbell._redis().llen(doorbell._done_key(MARKET, 7)) == 0  # consumed by the BLPOP


def test_a_notice_carries_the_batch_order_states_to_the_waiter(loop):
    _clear(8)
    state = done_listener.OrderState(41, "PartiallyFilled", Decimal("0.25"), Decimal("512.5"), "")
    notifier = threading.Thread(
        target=lambda: (
            time.sleep(0.1),
            doorbell.command_done_notify(market_id=MARKET, sequences=[8], orders=[state]),
        )
    )
    notifier.start()

    answer = doorbell.command_done_answer(market_id=MARKET, sequence=8, timeout=3)
    notifier.join()

    assert answer == {41: state}
    assert answer[41].executed_quote_quantity == Decimal("512.5")  # exact: decimals travel as text


@pytest.mark.django_db(transaction=True)
def test_an_answered_order_is_taken_from_the_notice_not_read_again(
    loop, demo_markets, alice, mallory, settings
):
    market = Market.objects.select_related("base", "quote").get(symbol="ETH_USDC")
    deposit_credit(user_id=mallory.pk, asset=market.base, quantity=Decimal("1"), source="administrator")
    deposit_credit(user_id=alice.pk, asset=market.quote, quantity=Decimal("5000"), source="administrator")
    settings.ORDER_RESULT_WAIT_SECONDS = 0
    order_place(user=mallory, market=market, request=_limit("Ask", "2000", "1"))
    order_place(user=alice, market=market, request=_limit("Bid", "1000", "1"))  # first use: ids looked up
    market_drain(market.pk)  # both rest
    settings.ORDER_RESULT_WAIT_SECONDS = 5

    def drain_later() -> None:  # the matching worker, answering alice's order
        time.sleep(0.3)
        try:
            market_drain(market.pk)
        finally:
            connections.close_all()

    worker = threading.Thread(target=drain_later)
    worker.start()
    with CaptureQueriesContext(connection) as queries:
        order = order_place(user=alice, market=market, request=_limit("Bid", "2000", "1"))
    worker.join(10)

    # The order statement only: the answer's state comes with the worker's notice.
    assert [query["sql"].split(None, 1)[0] for query in queries] == ["WITH"]
    assert (order.status, order.executed_quantity, order.executed_quote_quantity) == (
        OrderStatus.FILLED,
        Decimal("1"),
        Decimal("2000"),
    )
    stored = Order.objects.get(pk=order.pk)
    assert (stored.status, stored.executed_quantity, stored.executed_quote_quantity) == (
        order.status,
        order.executed_quantity,
        order.executed_quote_quantity,
    )
