"""The drain under a backlog: batch N is committed by a writer thread while batch N+1 is matched.

Commits stay in order and each is exactly once: a failed commit throws the in-memory book away,
and the next drain replays from what the database committed.
"""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from exchange.models import Fill, Market, MarketState, Order, OrderStatus
from exchange.services import matching
from exchange.services.matching import market_drain
from exchange.services.orders import order_place
from exchange.services.settlement import BatchConflict
from tests.factories.orders import limit_request as _limit


@pytest.fixture
def backlog(demo_markets, alice, mallory, settings):  # type: ignore[no-untyped-def]
    """Seven orders on ETH_USDC, three batches of at most three: bids 1000-1002, then asks that
    take them, then one resting ask."""
    from exchange.services.deposits import deposit_credit

    settings.ORDER_RESULT_WAIT_SECONDS = 0
    settings.MATCHING_BATCH_SIZE = 3
    market = Market.objects.select_related("base", "quote").get(symbol="ETH_USDC")
    deposit_credit(user_id=alice.pk, asset=market.quote, quantity=Decimal("10000"), source="administrator")
    deposit_credit(user_id=mallory.pk, asset=market.base, quantity=Decimal("10"), source="administrator")
    orders = [
        order_place(user=alice, market=market, request=_limit("Bid", p, "1"))
        for p in ("1000", "1001", "1002")
    ]
    orders += [order_place(user=mallory, market=market, request=_limit("Ask", "1000", "1")) for _ in range(3)]
    orders.append(order_place(user=mallory, market=market, request=_limit("Ask", "1100", "2")))
    matching._books.clear()
    return market, orders


def _verified(market: Market) -> None:
    call_command("check_ledger", verbosity=0)
    call_command("verify_market", market.symbol, stdout=io.StringIO())


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("writers", [1, 2, 3])
def test_a_backlog_is_drained_through_the_writer_thread_in_order(backlog, settings, writers):
    market, orders = backlog
    settings.MATCHING_WRITERS = writers
    committed_on: list[str] = []
    original = matching._batch_commit

    def commit(prepared: matching.PreparedBatch, *previous: object) -> list[int]:
        import threading

        committed_on.append(threading.current_thread().name)
        return original(prepared, *previous)  # type: ignore[arg-type]

    matching._batch_commit = commit
    try:
        report = market_drain(market.pk)
    finally:
        matching._batch_commit = original
    assert (report.applied, report.batches) == (7, 3)
    # The two full batches went to writer threads; the last, short one was committed here.
    assert [name.startswith("matching-") for name in committed_on] == [True, True, False]
    assert list(Fill.objects.order_by("trade_id").values_list("trade_id", "price", "taker_order_id")) == [
        (1, Decimal("1002"), orders[3].pk),
        (2, Decimal("1001"), orders[4].pk),
        (3, Decimal("1000"), orders[5].pk),
    ]
    assert MarketState.objects.get(pk=market.pk).last_applied_sequence == orders[-1].sequence
    assert Order.objects.get(pk=orders[-1].pk).status == OrderStatus.NEW
    _verified(market)


@pytest.mark.django_db(transaction=True)
def test_a_failed_commit_keeps_earlier_batches_and_the_next_drain_replays_the_rest_once(backlog):
    market, orders = backlog
    original = matching._batch_commit
    calls = 0

    def commit_then_fail(prepared: matching.PreparedBatch, *previous: object) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 2:  # the worker dies while writing batch 2 (batch 3 is already matched)
            raise ConnectionError("database went away")
        return original(prepared, *previous)  # type: ignore[arg-type]

    matching._batch_commit = commit_then_fail
    try:
        with pytest.raises(ConnectionError):
            market_drain(market.pk)
    finally:
        matching._batch_commit = original
    assert MarketState.objects.get(pk=market.pk).last_applied_sequence == orders[2].sequence
    assert Fill.objects.count() == 0
    assert market.pk not in matching._books  # the book that ran ahead is gone

    report = market_drain(market.pk)
    assert report.applied == 4
    assert Fill.objects.count() == 3
    assert sorted(Fill.objects.values_list("trade_id", flat=True)) == [1, 2, 3]
    _verified(market)


@pytest.mark.django_db(transaction=True)
def test_a_batch_matched_after_a_sequence_that_moved_on_writes_nothing(backlog):
    """A worker that lost its lease mid-batch: the compare-and-set on the last applied sequence
    refuses its write, whatever another worker did meanwhile."""
    market, orders = backlog
    cached = matching._book_for(market.pk)
    assert cached is not None
    prepared = matching._batch_prepare(cached, matching._commands_after(market.pk, 0, 3))
    MarketState.objects.filter(pk=market.pk).update(
        last_applied_sequence=orders[0].sequence
    )  # "another worker"
    with pytest.raises(BatchConflict):
        matching._batch_commit(prepared)
    assert Order.objects.filter(is_applied=True).count() == 0
    assert Fill.objects.count() == 0
    assert not connection.in_atomic_block


@pytest.mark.django_db(transaction=True)
def test_a_batch_whose_predecessor_fails_after_it_wrote_its_own_rows_writes_nothing(backlog, monkeypatch):
    """Two batches in flight: batch 2 writes its fills and journal lines while batch 1 is still
    being written; batch 1 then fails, and batch 2 must roll back too."""
    import threading

    from exchange.services import settlement

    market, _orders = backlog
    in_flight: list[matching.PreparedBatch] = []
    original_commit = matching._batch_commit
    original_shared = settlement.BatchWriter.write_shared_rows
    failed = threading.Event()

    def commit(prepared: matching.PreparedBatch, *previous: object) -> list[int]:
        in_flight.append(prepared)
        return original_commit(prepared, *previous)  # type: ignore[arg-type]

    def shared_rows(writer: settlement.BatchWriter, end: settlement.BatchEnd) -> None:
        if not failed.is_set():
            failed.set()
            # Batch 2 has written its own rows (two fills) by the time batch 1 fails.
            for _ in range(500):
                if len(in_flight) == 2 and in_flight[1].own_rows_written.is_set():
                    break
                threading.Event().wait(0.01)
            assert in_flight[1].own_rows_written.is_set()
            raise ConnectionError("database went away")
        original_shared(writer, end)

    monkeypatch.setattr(matching, "_batch_commit", commit)
    monkeypatch.setattr(settlement.BatchWriter, "write_shared_rows", shared_rows)
    with pytest.raises(ConnectionError):
        market_drain(market.pk)
    assert len(in_flight) == 2  # the third (short) batch was never written
    assert MarketState.objects.get(pk=market.pk).last_applied_sequence == 0
    assert Fill.objects.count() == 0
    assert Order.objects.filter(is_applied=True).count() == 0
    assert market.pk not in matching._books

    monkeypatch.setattr(settlement.BatchWriter, "write_shared_rows", original_shared)
    report = market_drain(market.pk)
    assert report.applied == 7
    assert sorted(Fill.objects.values_list("trade_id", flat=True)) == [1, 2, 3]
    _verified(market)
