"""A small batch's round trips, and how long it holds the ledger rows a placement needs.

From the ledger accounts' lock to the end of COMMIT an order placement for those accounts waits
(exchange/services/orders.py locks them too). The batch sends everything after the orders' lock
in one pipeline, the ledger lock, the balance move, the outbox row and the market state's
compare-and-set included, and checks the answers before it commits.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from core.errors import InsufficientFunds
from core.money import render
from exchange.models import (
    AccountKind,
    Fill,
    LedgerAccount,
    Market,
    MarketState,
    Order,
    OrderStatus,
    OutboxEvent,
)
from exchange.services import matching
from exchange.services.deposits import deposit_credit
from exchange.services.matching import market_drain
from exchange.services.orders import order_cancel_submit, order_place
from tests.factories.orders import bid as _bid
from tests.factories.orders import limit_request


@pytest.fixture
def market(demo_markets, alice, settings) -> Market:  # type: ignore[no-untyped-def]
    settings.ORDER_RESULT_WAIT_SECONDS = 0
    settings.MATCHING_BATCH_SIZE = 100
    market = Market.objects.select_related("base", "quote").get(symbol="ETH_USDC")
    deposit_credit(user_id=alice.pk, asset=market.quote, quantity=Decimal("10000.5"), source="administrator")
    matching._books.clear()
    return market


class _Trace:
    """Each statement the connection runs, with the psycopg pipeline it was queued in (None: sent
    on its own): Django's execute wrapper, so the real statements run as usual."""

    def __init__(self) -> None:
        # The pipeline objects themselves, kept alive: two pipelines are never the same object.
        self.statements: list[tuple[str, object]] = []

    def __call__(self, execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        self.statements.append((" ".join(str(sql).split()), connection.connection._pipeline))
        return execute(sql, params, many, context)

    def pipeline_of(self, start: str) -> object:
        (found,) = [pipeline for sql, pipeline in self.statements if sql.startswith(start)]
        return found


def _balances(user_id: int, asset_id: int) -> dict[str, Decimal]:
    return dict(
        LedgerAccount.objects.filter(owner_id=user_id, asset_id=asset_id).values_list("kind", "balance")
    )


@pytest.mark.django_db(transaction=True)
def test_from_the_ledger_lock_to_the_state_compare_and_set_the_batch_is_one_round_trip(
    market, alice, settings
):
    settings.API_PREPARED_STATEMENTS = True  # pipelining needs them (exchange/services/settlement.py)
    order = order_place(user=alice, market=market, request=_bid("1000.25"))
    assert market_drain(market.pk).applied == 1
    order_cancel_submit(user=alice, market=market, order_id=order.pk, client_id=None)

    trace = _Trace()
    with connection.execute_wrapper(trace):
        assert market_drain(market.pk).applied == 1

    tail = trace.pipeline_of("UPDATE exchange_order AS t")
    assert tail is not None
    for start in (
        "WITH entry AS ( SELECT nextval",  # the release of the hold
        "SELECT id, kind, balance FROM exchange_ledgeraccount",  # the ledger lock
        "UPDATE exchange_ledgeraccount AS t",
        "WITH event AS ( INSERT INTO exchange_outboxevent",  # and the publisher's NOTIFY
        "UPDATE exchange_marketstate",
    ):
        assert trace.pipeline_of(start) is tail, start
    # The advisory lock, the last applied sequence and the commands: one round trip as well.
    lock = trace.pipeline_of("SELECT pg_try_advisory_lock")
    assert lock is not None
    assert trace.pipeline_of("SELECT c.sequence") is lock
    unlock = trace.pipeline_of("SELECT pg_advisory_unlock")
    assert unlock is not None
    assert trace.pipeline_of("SELECT EXISTS") is unlock
    print([(sql[:50], id(p) if p is not None else None) for sql, p in trace.statements])
    assert len({id(pipeline) for _, pipeline in trace.statements}) == 4  # and the orders. lock

    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED
    assert _balances(alice.pk, market.quote_id) == {
        AccountKind.AVAILABLE: Decimal("10000.5"),
        AccountKind.LOCKED: Decimal(0),
    }


@pytest.mark.django_db(transaction=True)
def test_a_small_batchs_fills_and_journal_go_with_the_orders_lock(market, alice, mallory, settings):
    settings.API_PREPARED_STATEMENTS = True
    deposit_credit(user_id=mallory.pk, asset=market.base, quantity=Decimal("5"), source="administrator")
    order_place(user=alice, market=market, request=_bid("1000", "2"))
    order_place(user=mallory, market=market, request=limit_request("Ask", "1000", "1.5"))

    trace = _Trace()
    with connection.execute_wrapper(trace):
        assert market_drain(market.pk).applied == 2

    first = trace.pipeline_of("INSERT INTO exchange_fill")
    assert first is not None
    assert trace.pipeline_of("WITH entry AS ( SELECT nextval") is first  # the trade's entry
    assert trace.pipeline_of("SELECT id, user_id, status") is first  # the orders' lock
    assert trace.pipeline_of("SELECT id, kind, balance FROM exchange_ledgeraccount") is not first
    assert Fill.objects.get().quantity == Decimal("1.5")
    call_command("check_ledger", verbosity=0)
    call_command("verify_market", market.symbol, stdout=io.StringIO())


@pytest.mark.django_db(transaction=True)
def test_the_balance_events_are_the_ledger_as_the_batch_left_it(market, alice):
    order_place(user=alice, market=market, request=_bid("1000.25", "2"))
    assert market_drain(market.pk).applied == 1

    payload: dict[str, Any] = OutboxEvent.objects.latest("id").payload
    # As core.money.render writes them (trailing zeros trimmed), a missing (staked) account "0".
    assert payload["b"] == [[alice.pk, "USDC", "8000", "2000.5", "0"]]
    balances = _balances(alice.pk, market.quote_id)
    assert payload["b"][0][2:4] == [
        render(balances[AccountKind.AVAILABLE]),
        render(balances[AccountKind.LOCKED]),
    ]


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_would_take_a_bucket_below_zero_is_refused_and_writes_nothing(market, alice):
    """The balance move is sent before its answer is checked: the refusal must still be
    InsufficientFunds (not the table's check constraint), and the whole batch rolled back."""
    order = order_place(user=alice, market=market, request=_bid("1000"))
    assert market_drain(market.pk).applied == 1
    _, sequence = order_cancel_submit(user=alice, market=market, order_id=order.pk, client_id=None)
    # A hold that the books no longer cover (as if tampered with): releasing it would go negative.
    LedgerAccount.objects.filter(owner_id=alice.pk, asset_id=market.quote_id, kind=AccountKind.LOCKED).update(
        balance=Decimal("999")
    )
    balances = _balances(alice.pk, market.quote_id)
    state = MarketState.objects.get(market=market)
    events = OutboxEvent.objects.count()

    with pytest.raises(InsufficientFunds):
        market_drain(market.pk)

    assert _balances(alice.pk, market.quote_id) == balances
    assert Order.objects.get(pk=order.pk).status == OrderStatus.NEW
    after = MarketState.objects.get(market=market)
    assert (after.last_applied_sequence, after.last_update_id) == (
        state.last_applied_sequence,
        state.last_update_id,
    )
    assert after.last_applied_sequence == sequence - 1
    assert OutboxEvent.objects.count() == events
    assert not connection.in_atomic_block
    assert market.pk not in matching._books


@pytest.mark.django_db(transaction=True)
def test_a_large_batchs_rows_go_through_copy_and_settle_the_same(market, alice, mallory, monkeypatch):
    """Past SMALL_OWN_ROWS (here every batch) fills, journal entries and the release entry are
    COPYed, as before the pipelined INSERTs: same rows, same ledger."""
    from exchange.services import settlement

    monkeypatch.setattr(settlement, "SMALL_OWN_ROWS", 0)
    deposit_credit(user_id=mallory.pk, asset=market.base, quantity=Decimal("5"), source="administrator")
    bid = order_place(user=alice, market=market, request=_bid("1000", "2"))
    order_place(user=mallory, market=market, request=limit_request("Ask", "999", "1.5"))
    order_cancel_submit(user=alice, market=market, order_id=bid.pk, client_id=None)

    trace = _Trace()
    with connection.execute_wrapper(trace):
        assert market_drain(market.pk).applied == 3
    assert not [
        sql for sql, _ in trace.statements if sql.startswith(("INSERT INTO exchange_fill", "WITH entry"))
    ]

    assert Fill.objects.get().price == Decimal("1000")
    assert Order.objects.get(pk=bid.pk).status == OrderStatus.CANCELLED
    assert _balances(alice.pk, market.quote_id) == {
        AccountKind.AVAILABLE: Decimal("10000.5") - Decimal("1500"),
        AccountKind.LOCKED: Decimal(0),
    }
    call_command("check_ledger", verbosity=0)
    call_command("verify_market", market.symbol, stdout=io.StringIO())
