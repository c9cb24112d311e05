"""Order placement's database cost, pinned: the REST path's throughput is bounded by it
(docs/PERFORMANCE.md, REST API), so a regression here shows as a failing count, not a slow bench."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from core.errors import InsufficientFunds, NotFound
from exchange.models import AccountKind, JournalEntry, Market, MarketCommand, Order, OrderStatus
from exchange.services import ledger_batch
from exchange.services.deposits import deposit_credit
from exchange.services.ledger import ledger_account_get
from exchange.services.orders import order_cancel, order_place
from tests.factories.orders import bid as _bid


def _balances(user_id: int, market: Market) -> tuple[Decimal, Decimal]:
    return (
        ledger_account_get(owner_id=user_id, kind=AccountKind.AVAILABLE, asset=market.quote).balance,
        ledger_account_get(owner_id=user_id, kind=AccountKind.LOCKED, asset=market.quote).balance,
    )


@pytest.fixture
def market(demo_markets, alice, settings) -> Market:  # type: ignore[no-untyped-def]
    settings.ORDER_RESULT_WAIT_SECONDS = 0  # no matching worker here: the order stays as accepted
    market = Market.objects.select_related("base", "quote").get(symbol="ETH_USDC")
    deposit_credit(user_id=alice.pk, asset=market.quote, quantity=Decimal("10000"), source="administrator")
    return market


@pytest.mark.django_db(transaction=True)
def test_placing_an_order_is_one_statement(market, alice):
    order_place(user=alice, market=market, request=_bid("1000"))  # first use: account ids are looked up

    with CaptureQueriesContext(connection) as queries:
        order = order_place(user=alice, market=market, request=_bid("1500", "2"))

    # One statement, its own transaction: the freeze check, the hold (order id, balances, journal
    # entry and lines), and the order with its place command and sequence number. Answered
    # without the worker here, the call then makes it durable (one more statement).
    statements = [query["sql"].split(None, 1)[0] for query in queries]
    assert statements == ["WITH", "SELECT"], [q["sql"][:80] for q in queries]
    assert "pg_logical_emit_message" in queries[1]["sql"]
    stored = Order.objects.get(pk=order.pk)
    assert (stored.status, stored.locked_amount, stored.sequence) == (OrderStatus.NEW, Decimal("3000"), 2)
    assert MarketCommand.objects.get(market=market, sequence=2).payload == {"reserved": "3000"}
    assert JournalEntry.objects.filter(reference=f"order:{order.pk}", kind="hold").count() == 1
    assert _balances(alice.pk, market) == (Decimal("6000"), Decimal("4000"))


@pytest.mark.django_db(transaction=True)
def test_an_order_beyond_the_balance_is_refused_and_changes_nothing(market, alice):
    order_place(user=alice, market=market, request=_bid("1000", "9"))
    orders, commands, entries = (
        Order.objects.count(),
        MarketCommand.objects.count(),
        JournalEntry.objects.count(),
    )

    with pytest.raises(InsufficientFunds) as refused:
        order_place(user=alice, market=market, request=_bid("1000", "2"))

    assert refused.value.message == "Insufficient available USDC: have 1000, need 2000"
    assert _balances(alice.pk, market) == (Decimal("1000"), Decimal("9000"))
    assert (Order.objects.count(), MarketCommand.objects.count(), JournalEntry.objects.count()) == (
        orders,
        commands,
        entries,
    )


@pytest.mark.django_db(transaction=True)
def test_two_racing_orders_cannot_both_spend_the_same_funds(market, alice):
    # 10,000 USDC: each order holds 6,000, so exactly one of the two can be accepted.
    outcomes: list[str] = []

    def place() -> None:
        try:
            order_place(user=alice, market=market, request=_bid("1000", "6"))
            outcomes.append("placed")
        except InsufficientFunds:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=place) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(outcomes) == ["placed", "refused"]
    assert _balances(alice.pk, market) == (Decimal("4000"), Decimal("6000"))
    assert Order.objects.filter(user=alice).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_stale_cached_account_id_is_looked_up_again(market, alice):
    # A long-lived process that cached ids before its database was rebuilt: the guarded hold
    # matches no row for the stale id, so the ids are looked up again and the order goes through.
    available = ledger_account_get(owner_id=alice.pk, kind=AccountKind.AVAILABLE, asset=market.quote)
    ledger_batch._account_ids[(alice.pk, AccountKind.AVAILABLE.value, market.quote.pk)] = (
        available.pk + 10_000
    )

    order = order_place(user=alice, market=market, request=_bid("1000", "2"))

    assert Order.objects.get(pk=order.pk).locked_amount == Decimal("2000")
    assert _balances(alice.pk, market) == (Decimal("8000"), Decimal("2000"))


@pytest.mark.django_db(transaction=True)
def test_a_refused_hold_moves_neither_balance_whichever_account_is_locked_first(
    demo_markets, alice, settings
):
    # The locked account created first has the lower id, so the statement locks it first: a hold
    # short of funds must still move nothing (the guard is on both rows, not row by row).
    settings.ORDER_RESULT_WAIT_SECONDS = 0
    market = Market.objects.select_related("base", "quote").get(symbol="ETH_USDC")
    locked = ledger_account_get(owner_id=alice.pk, kind=AccountKind.LOCKED, asset=market.quote)
    deposit_credit(user_id=alice.pk, asset=market.quote, quantity=Decimal("1000"), source="administrator")
    available = ledger_account_get(owner_id=alice.pk, kind=AccountKind.AVAILABLE, asset=market.quote)
    assert locked.pk < available.pk
    entries = JournalEntry.objects.count()

    with pytest.raises(InsufficientFunds):
        order_place(user=alice, market=market, request=_bid("1000", "2"))

    assert _balances(alice.pk, market) == (Decimal("1000"), Decimal("0"))
    assert (JournalEntry.objects.count(), Order.objects.count(), MarketCommand.objects.count()) == (
        entries,
        0,
        0,
    )


@pytest.mark.django_db(transaction=True)
def test_cancelling_is_one_statement_and_only_the_owner_can_cancel(market, alice, bob):
    order = order_place(user=alice, market=market, request=_bid("1000"))
    commands = MarketCommand.objects.count()

    with pytest.raises(NotFound):
        order_cancel(user=bob, market=market, order_id=order.pk, client_id=None)
    assert MarketCommand.objects.count() == commands  # nothing stored for someone else's order

    with CaptureQueriesContext(connection) as queries:
        answered = order_cancel(user=alice, market=market, order_id=order.pk, client_id=None)

    assert [query["sql"].split(None, 1)[0] for query in queries] == [
        "WITH",
        "SELECT",
    ]  # then made durable: no worker here
    assert (answered.pk, answered.status) == (order.pk, OrderStatus.NEW)  # as found: no worker here
    command = MarketCommand.objects.get(market=market, sequence=order.sequence + 1)
    assert (command.kind, command.order_id, command.user_id) == ("cancel", order.pk, alice.pk)


@pytest.mark.django_db(transaction=True)
def test_the_order_statements_run_prepared(market, alice):
    # Parsed and planned once per connection, not on every order (core/api_prepared.py).
    order = order_place(user=alice, market=market, request=_bid("1000"))
    order_cancel(user=alice, market=market, order_id=order.pk, client_id=None)

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any(statement.startswith("WITH new_order") for statement in prepared), prepared
    assert any("target AS (" in statement for statement in prepared), prepared


def _setting() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return str(cursor.fetchone()[0])


def _all_flushed() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_flush_lsn() >= pg_current_wal_insert_lsn()")
        return bool(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_an_order_answered_without_the_worker_is_on_disk_first(market, alice):
    # The order statement commits without waiting for the WAL flush (the market's sequence row is
    # not held through it); an answer that does not come from the worker's durable batch waits
    # for the flush itself. Without that wait the order's commit would still be in memory here.
    before = _setting()
    for price in ("1000", "1001", "1002"):
        order = order_place(user=alice, market=market, request=_bid(price))
        assert _all_flushed()
        order_cancel(user=alice, market=market, order_id=order.pk, client_id=None)
        assert _all_flushed()
    assert _setting() == before  # the statement's own setting does not outlive it


@pytest.mark.django_db(transaction=True)
def test_inside_a_callers_transaction_the_commit_is_the_callers(market, alice):
    with transaction.atomic():
        before = _setting()
        order_place(user=alice, market=market, request=_bid("1000"))
        assert _setting() == before


@pytest.mark.django_db(transaction=True)
def test_the_order_statements_text_is_converted_once(market, alice, monkeypatch):
    # psycopg caches a query's placeholder conversion only below a size; the order statements are
    # above its default, so core/api_prepared.py raises it: no order call converts its text again.
    from psycopg import _queries

    uncached: list[bytes] = []
    convert = _queries._query2pg_nocache

    def counted(query: bytes, encoding: str):  # type: ignore[no-untyped-def]
        uncached.append(query)
        return convert(query, encoding)

    monkeypatch.setattr(_queries, "_query2pg_nocache", counted)
    for price in ("1000", "1001", "1002"):
        order = order_place(user=alice, market=market, request=_bid(price))
        order_cancel(user=alice, market=market, order_id=order.pk, client_id=None)

    assert uncached == []
