"""Fast order calls check against cached key, user and market rows (exchange/api/seen_rows.py),
and the order statement re-checks them: any change to those rows takes effect on the very next
call, exactly as when each call read them afresh, and a statement given rows that changed stores
nothing."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services.api_keys import api_key_revoke
from exchange.api import fast_orders
from exchange.api.fast_orders import FastCall
from exchange.api.seen_rows import seen_clear, seen_key, seen_market, seen_rows_of
from exchange.models import LedgerAccount, Market, Order, OrderBookState
from exchange.services.orders import SeenRows, SeenRowsChanged, order_submit
from tests.api.conftest import BID
from tests.factories.orders import bid

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_cache():
    seen_clear()
    yield
    seen_clear()


def _place(trader, body=BID):  # type: ignore[no-untyped-def]
    return trader.send("POST", body)


def test_a_revoked_key_is_refused_on_the_next_call(trader, alice, settings):
    settings.API_FAST_ORDERS = True
    assert _place(trader)[0] == 200
    assert seen_key(trader.key.public_key) is not None  # cached by that call

    api_key_revoke(user=alice, api_key_id=trader.key.pk)
    status, _, body = _place(trader)

    assert (status, body["code"]) == (401, "UNAUTHORIZED")
    assert Order.objects.count() == 1


def test_a_closed_market_refuses_the_next_call_as_django_does(trader, settings):
    settings.API_FAST_ORDERS = True
    assert _place(trader)[0] == 200
    Market.objects.filter(symbol="SOL_USDC").update(order_book_state=OrderBookState.CLOSED)

    fast = _place(trader)
    settings.API_FAST_ORDERS = False
    django = _place(trader)

    assert fast[0] >= 400
    assert fast[0] == django[0]
    assert fast[2] == django[2]
    assert Order.objects.count() == 1


def test_a_new_tick_size_applies_to_the_next_call(trader, settings):
    settings.API_FAST_ORDERS = True
    assert _place(trader, {**BID, "price": "100.5"})[0] == 200
    Market.objects.filter(symbol="SOL_USDC").update(tick_size=Decimal("1"))

    status, _, body = _place(trader, {**BID, "price": "100.5"})

    assert status == 400, body
    assert Order.objects.count() == 1


def test_a_deactivated_user_is_refused_on_the_next_call(trader, alice, settings):
    settings.API_FAST_ORDERS = True
    assert _place(trader)[0] == 200
    type(alice).objects.filter(pk=alice.pk).update(is_active=False)

    status, _, body = _place(trader)

    assert (status, body["code"]) == (401, "ACCOUNT_DEACTIVATED")
    assert Order.objects.count() == 1


def _call(trader, body):  # type: ignore[no-untyped-def]
    timestamp = str(time.time_ns() // 1_000_000)
    headers = trader.headers("orderExecute", body, timestamp=timestamp)
    return FastCall(
        scope={},
        method="POST",
        api_key=headers["X-API-Key"],
        signature=headers["X-Signature"],
        timestamp=timestamp,
        window=headers["X-Window"],
    )


def test_a_cached_call_makes_one_round_trip(trader, settings):
    body = json.dumps(BID).encode()
    fast_orders._submit(_call(trader, BID), body)  # fills the cache

    with CaptureQueriesContext(connection) as queries:
        order, sequence = fast_orders._submit(_call(trader, BID), body)

    assert sequence > 0
    assert order.status == "New"
    assert len(queries) == 1, [query["sql"][:80] for query in queries]
    settings.API_SEEN_ROWS = False
    with CaptureQueriesContext(connection) as queries:
        fast_orders._submit(_call(trader, BID), body)
    assert len(queries) == 3  # key, market, order


@pytest.mark.parametrize("changed", ["api_key", "user", "market", "base", "quote"])
def test_a_statement_given_changed_rows_stores_nothing(trader, alice, changed):
    seen_caller, seen_in = seen_key(trader.key.public_key), seen_market("SOL_USDC")
    assert seen_caller is not None
    assert seen_in is not None
    market = seen_in.market
    rows = seen_rows_of(seen_caller, seen_in)
    request = bid("100", "0.5")
    order_submit(user=alice, market=market, request=request, seen=rows)  # as read: stored
    assert Order.objects.count() == 1
    balances = _balances()

    stale = SeenRows(**{**{name: getattr(rows, name) for name in SeenRows.__slots__}, changed: "(changed)"})
    with pytest.raises(SeenRowsChanged):
        order_submit(user=alice, market=market, request=request, seen=stale)

    assert Order.objects.count() == 1
    assert _balances() == balances


def _balances() -> list[tuple[int, Decimal]]:
    return list(LedgerAccount.objects.order_by("id").values_list("id", "balance"))
