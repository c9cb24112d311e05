"""One writer per market: the advisory-lock lease, and takeover when its holder's connection dies."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connections

from exchange.models import Market, MarketState, Order, OrderStatus
from exchange.services.matching import market_drain, market_lock
from exchange.services.orders import order_place
from tests.factories.orders import bid as _bid


@pytest.mark.django_db(transaction=True)
def test_a_second_worker_is_refused_while_the_holder_lives_and_takes_over_when_it_dies(
    demo_markets, alice, settings
):
    from exchange.services.deposits import deposit_credit

    settings.ORDER_RESULT_WAIT_SECONDS = 0
    market = Market.objects.select_related("base", "quote").get(symbol="ETH_USDC")
    deposit_credit(user_id=alice.pk, asset=market.quote, quantity=Decimal("10000"), source="administrator")
    order = order_place(user=alice, market=market, request=_bid("1000"))

    holder_ready, holder_release = threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    def holder() -> None:
        # Another worker process: its own database session holds the market.
        with market_lock(market.pk) as acquired:
            seen["holder_acquired"] = acquired
            holder_ready.set()
            holder_release.wait(30)
        connections.close_all()

    thread = threading.Thread(target=holder)
    thread.start()
    assert holder_ready.wait(10)
    assert seen["holder_acquired"] is True

    report = market_drain(market.pk)
    assert report.busy is True
    assert Order.objects.get(pk=order.pk).is_applied is False  # the refused worker changed nothing

    holder_release.set()  # the holder ends (here cleanly; a killed process's session ends the same way)
    thread.join(10)
    report = market_drain(market.pk)
    assert (report.busy, report.applied) == (False, 1)
    order.refresh_from_db()
    assert (order.is_applied, order.status) == (True, OrderStatus.NEW)
    assert MarketState.objects.get(pk=market.pk).last_applied_sequence == order.sequence


@pytest.mark.django_db(transaction=True)
def test_a_drain_is_idempotent(demo_markets, alice, settings):
    from exchange.services.deposits import deposit_credit

    settings.ORDER_RESULT_WAIT_SECONDS = 0
    market = Market.objects.select_related("base", "quote").get(symbol="ETH_USDC")
    deposit_credit(user_id=alice.pk, asset=market.quote, quantity=Decimal("10000"), source="administrator")
    order_place(user=alice, market=market, request=_bid("1000"))
    assert market_drain(market.pk).applied == 1
    assert market_drain(market.pk).applied == 0  # the broker delivering the doorbell twice does nothing
