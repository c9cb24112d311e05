"""The drain's fixed cost per batch: what a small batch (the REST path's usual one) sends to
PostgreSQL (docs/PERFORMANCE.md, Sequencer round 5)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exchange.models import Market, MarketState, Order, OrderStatus
from exchange.services import matching
from exchange.services.deposits import deposit_credit
from exchange.services.matching import market_drain
from exchange.services.orders import order_place
from tests.factories.orders import bid as _bid


@pytest.fixture
def market(demo_markets, alice, settings) -> Market:  # type: ignore[no-untyped-def]
    settings.ORDER_RESULT_WAIT_SECONDS = 0
    settings.MATCHING_BATCH_SIZE = 100
    market = Market.objects.select_related("base", "quote").get(symbol="ETH_USDC")
    deposit_credit(user_id=alice.pk, asset=market.quote, quantity=Decimal("10000"), source="administrator")
    matching._books.clear()
    return market


@pytest.mark.django_db(transaction=True)
def test_the_batch_statements_run_prepared(market, alice):
    order_place(user=alice, market=market, request=_bid("1000"))
    assert market_drain(market.pk).applied == 1

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [" ".join(row[0].split()) for row in cursor.fetchall()]
    for start in (
        "SELECT c.sequence",  # the pending commands
        "SELECT id, user_id, status",  # the batch's orders, locked
        "UPDATE exchange_order AS t",
        "WITH event AS (",  # the stream events, with the balances they carry
        "UPDATE exchange_marketstate",  # the compare-and-set
    ):
        assert any(statement.startswith(start) for statement in prepared), (start, prepared)


@pytest.mark.django_db(transaction=True)
def test_a_short_read_is_the_last_of_its_drain_and_a_later_command_is_still_applied(
    market, alice, monkeypatch
):
    first = order_place(user=alice, market=market, request=_bid("1000"))
    late: list[Order] = []
    commit = matching._batch_commit

    def commit_then_place(*args, **kwargs):  # type: ignore[no-untyped-def]
        sequences = commit(*args, **kwargs)
        if not late:  # a command that arrives once the short read is done
            late.append(order_place(user=alice, market=market, request=_bid("999")))
        return sequences

    monkeypatch.setattr(matching, "_batch_commit", commit_then_place)
    with CaptureQueriesContext(connection) as queries:
        report = market_drain(market.pk)

    reads = [query for query in queries if query["sql"].lstrip().startswith("SELECT c.sequence")]
    assert len(reads) == 2  # one per short batch, no empty read after either
    assert (report.applied, report.batches) == (2, 2)
    statuses = Order.objects.filter(pk__in=[first.pk, late[0].pk]).values_list("status", "is_applied")
    assert set(statuses) == {(OrderStatus.NEW, True)}
    assert MarketState.objects.get(market=market).last_applied_sequence == late[0].sequence
