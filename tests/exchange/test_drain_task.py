"""The drain task keeps going while commands keep coming (exchange/tasks.py), woken through Redis
(exchange/services/doorbell.py) instead of one Celery task per ring, and never leaves a command
waiting for the periodic sweep when it stops."""

from __future__ import annotations

import threading
import time
import uuid
from decimal import Decimal

import pytest
from django.db import connections

from exchange import tasks
from exchange.models import Market, MarketState, Order, OrderStatus
from exchange.services import doorbell
from exchange.services.deposits import deposit_credit
from exchange.services.orders import order_place
from tests.factories.orders import bid as _bid


@pytest.fixture
def market(demo_markets, alice, settings, monkeypatch) -> Market:  # type: ignore[no-untyped-def]
    settings.ORDER_RESULT_WAIT_SECONDS = 0
    market = Market.objects.select_related("base", "quote").get(symbol="ETH_USDC")
    deposit_credit(user_id=alice.pk, asset=market.quote, quantity=Decimal("100000"), source="administrator")
    doorbell._redis().delete(
        doorbell._ringing_key(market.pk), doorbell._wake_key(market.pk), doorbell._waiter_key(market.pk)
    )
    return market


@pytest.fixture
def queued(monkeypatch) -> list[int]:  # type: ignore[no-untyped-def]
    """Drain tasks sent to the broker (none runs: the test runs the task itself)."""
    sent: list[int] = []
    monkeypatch.setattr(tasks.market_drain, "apply_async", lambda args, queue: sent.append(args[0]))
    return sent


def _applied(market: Market) -> int:
    return MarketState.objects.get(market=market).last_applied_sequence


def _until_waiting(market: Market, waiter: str) -> None:
    """Until `waiter` holds the market's waiting role (a fixed pause may be too short under load)."""
    deadline = time.monotonic() + 10
    while doorbell._redis().get(doorbell._waiter_key(market.pk)) != waiter.encode():
        assert time.monotonic() < deadline, "the drain never started waiting"
        time.sleep(0.01)


@pytest.mark.django_db(transaction=True)
def test_one_task_drains_commands_that_arrive_while_it_waits(market, alice, queued, monkeypatch):
    # Bounds far above the 0.1 s between orders, so a loaded machine's pauses do not end the task
    # early: what is shown is one task serving them all, not how fast.
    monkeypatch.setattr(tasks, "DRAIN_TASK_SECONDS", 30.0)
    monkeypatch.setattr(tasks, "DRAIN_IDLE_WAIT_SECONDS", 3.0)
    order_place(user=alice, market=market, request=_bid("1000"))
    assert queued == [market.pk]  # the first ring queues the task
    outcome: dict[str, int] = {}

    def worker() -> None:
        try:
            outcome["applied"] = tasks.market_drain(market.pk)
        finally:
            connections.close_all()

    thread = threading.Thread(target=worker)
    thread.start()
    deadline = time.monotonic() + 10
    while _applied(market) < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    for price in ("1001", "1002", "1003"):
        time.sleep(0.1)
        order_place(user=alice, market=market, request=_bid(price))
    thread.join(15)

    assert outcome["applied"] == 4
    # Later rings woke the waiting drain instead of queueing a task per order (one may still be
    # queued by a ring that lands while a drain runs: the mark is cleared while it reads).
    assert len(queued) < 4
    assert set(Order.objects.filter(user=alice).values_list("status", flat=True)) == {OrderStatus.NEW}
    assert _applied(market) == 4


@pytest.mark.django_db(transaction=True)
def test_after_the_task_stops_the_next_command_queues_a_task_again(market, alice, queued, monkeypatch):
    monkeypatch.setattr(tasks, "DRAIN_IDLE_WAIT_SECONDS", 0.1)
    order_place(user=alice, market=market, request=_bid("1000"))

    assert tasks.market_drain(market.pk) == 1  # drained, waited 0.1 s for more, stopped
    order_place(user=alice, market=market, request=_bid("1001"))

    assert queued == [market.pk, market.pk]


@pytest.mark.django_db(transaction=True)
def test_a_task_that_finds_nothing_does_not_wait(market, alice, queued, monkeypatch):
    monkeypatch.setattr(tasks, "DRAIN_IDLE_WAIT_SECONDS", 5.0)
    started = time.monotonic()

    assert tasks.market_drain(market.pk) == 0

    assert time.monotonic() - started < 2


@pytest.mark.django_db(transaction=True)
def test_one_drain_waits_per_market(market):
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    woken: dict[str, bool] = {}

    def wait() -> None:
        woken["first"] = doorbell.doorbell_wait(market_id=market.pk, timeout=2.0, waiter=first)

    thread = threading.Thread(target=wait)
    thread.start()
    _until_waiting(market, first)
    started = time.monotonic()
    # A second drain of the same market does not wait alongside: it is told to stop at once.
    assert doorbell.doorbell_wait(market_id=market.pk, timeout=2.0, waiter=second) is False
    assert time.monotonic() - started < 1
    # A ring, seeing the market marked, wakes the waiting drain instead of queueing a task.
    assert (
        doorbell._ring_script()(
            keys=[doorbell._ringing_key(market.pk), doorbell._wake_key(market.pk)], args=[1000]
        )
        == 0
    )
    thread.join(5)
    assert woken["first"] is True

    doorbell.doorbell_wait_end(market_id=market.pk, waiter=first)
    assert doorbell.doorbell_wait(market_id=market.pk, timeout=0.1, waiter=second) is False  # timed out
    assert doorbell._redis().get(doorbell._waiter_key(market.pk)) == second.encode()


@pytest.mark.django_db(transaction=True)
def test_a_queued_drain_leaves_the_market_to_the_drain_waiting_on_it(market, alice, queued):
    order_place(user=alice, market=market, request=_bid("1000"))
    waiter = uuid.uuid4().hex
    woken: dict[str, bool] = {}

    def wait() -> None:
        woken["waiter"] = doorbell.doorbell_wait(market_id=market.pk, timeout=3.0, waiter=waiter)

    thread = threading.Thread(target=wait)
    thread.start()
    _until_waiting(market, waiter)

    # Draining here would make two processes take turns on the market (each rebuilding its book):
    # the task wakes the waiting drain and leaves the command to it.
    assert tasks.market_drain(market.pk) == 0
    thread.join(5)
    assert woken["waiter"] is True
    assert _applied(market) == 0

    # Once the waiter gives up its role (before its last look), a task drains by itself again.
    doorbell.doorbell_wait_end(market_id=market.pk, waiter=waiter)
    assert tasks.market_drain(market.pk) == 1
