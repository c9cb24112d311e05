"""Public market data (depth, trades, tickers, klines) from rows as the market worker leaves them:
exact Backpack JSON, and 400s with the right code for bad parameters."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import close_old_connections, connection, transaction

from exchange.models import Market, MarketState, Order, OrderStatus, OrderType, Side
from tests.factories.trading import (
    candle_make,
    market_get,
    market_state_set,
    order_make,
    trade_make,
)

# A Sunday evening: weeks start on Monday 2025-07-21, the month on 2025-07-01.
NOW = datetime(2025, 7, 27, 18, 5, 30, 250000, tzinfo=UTC)
NOW_US = int(NOW.timestamp()) * 1_000_000 + 250_000


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def sol(demo_markets) -> Market:
    return market_get("SOL_USDC")


@pytest.fixture
def btc(demo_markets) -> Market:
    return market_get("BTC_USDC")


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def seconds(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(seconds=1)


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message"}
    assert body["code"] == code
    assert body["message"]


# --- depth ------------------------------------------------------------------------------------------


def test_depth_aggregates_resting_limit_orders_by_price(client, clock, sol, btc, alice, bob):
    rest = {"user": alice, "market": sol}
    order_make(**rest, side=Side.ASK, price="101.5", quantity="2")
    order_make(user=bob, market=sol, side=Side.ASK, price="101.5", quantity="1.25")
    order_make(
        **rest,
        side=Side.ASK,
        price="102",
        quantity="5",
        executed_quantity="1",
        status=OrderStatus.PARTIALLY_FILLED,
    )
    order_make(**rest, side=Side.BID, price="99", quantity="3")
    order_make(user=bob, market=sol, side=Side.BID, price="100", quantity="0.5")
    # Not on the book: finished, not yet applied by the worker, market orders, another market.
    order_make(**rest, side=Side.BID, price="100.5", quantity="1", status=OrderStatus.CANCELLED)
    order_make(
        **rest, side=Side.ASK, price="101", quantity="1", executed_quantity="1", status=OrderStatus.FILLED
    )
    order_make(**rest, side=Side.BID, price="100.2", quantity="1", is_applied=False)
    order_make(**rest, side=Side.BID, order_type=OrderType.MARKET, quantity="1")
    order_make(user=alice, market=btc, side=Side.BID, price="65000", quantity="1")
    market_state_set(market=sol, last_update_id=42)

    response = client.get("/api/v1/depth", {"symbol": "SOL_USDC"})

    assert response.status_code == 200
    assert response.json() == {
        "asks": [["101.50", "3.25"], ["102.00", "4.00"]],
        "bids": [["99.00", "3.00"], ["100.00", "0.50"]],
        "lastUpdateId": "42",
        "timestamp": NOW_US,
    }


def test_depth_renders_the_markets_tick_and_step_decimals(client, btc, alice):
    order_make(user=alice, market=btc, side=Side.ASK, price="65000", quantity="0.12345")
    order_make(user=alice, market=btc, side=Side.BID, price="64999.9", quantity="1")

    body = client.get("/api/v1/depth/", {"symbol": "BTC_USDC"}).json()

    assert (body["asks"], body["bids"]) == ([["65000.0", "0.12345"]], [["64999.9", "1.00000"]])
    # No worker has touched the market yet: the counter starts at zero, still a string.
    assert body["lastUpdateId"] == "0"
    assert isinstance(body["timestamp"], int)


def test_depth_limit_keeps_the_best_levels_of_each_side(client, sol, alice):
    for step in range(7):
        order_make(user=alice, market=sol, side=Side.ASK, price=Decimal(110 + step), quantity="1")
        order_make(user=alice, market=sol, side=Side.BID, price=Decimal(100 - step), quantity="1")

    body = client.get("/api/v1/depth", {"symbol": "SOL_USDC", "limit": "5"}).json()

    assert [price for price, _ in body["asks"]] == ["110.00", "111.00", "112.00", "113.00", "114.00"]
    # Ascending like Backpack's, best bid last.
    assert [price for price, _ in body["bids"]] == ["96.00", "97.00", "98.00", "99.00", "100.00"]


def test_empty_book(client, sol):
    body = client.get("/api/v1/depth", {"symbol": "SOL_USDC", "limit": "1000"}).json()
    assert (body["asks"], body["bids"], body["lastUpdateId"]) == ([], [], "0")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"symbol": "NOPE_USDC"}, "INVALID_SYMBOL"),
        ({}, "INVALID_CLIENT_REQUEST"),
        ({"symbol": ""}, "INVALID_CLIENT_REQUEST"),
        ({"symbol": "SOL_USDC", "limit": "7"}, "INVALID_CLIENT_REQUEST"),
        ({"symbol": "SOL_USDC", "limit": "abc"}, "INVALID_CLIENT_REQUEST"),
        ({"symbol": "SOL_USDC", "limit": "2000"}, "INVALID_CLIENT_REQUEST"),
    ],
)
def test_depth_bad_parameters(client, sol, params, code):
    assert_error(client.get("/api/v1/depth", params), 400, code)


def test_hidden_market_is_an_unknown_symbol(client, sol):
    Market.objects.filter(pk=sol.pk).update(visible=False)
    assert_error(client.get("/api/v1/depth", {"symbol": "SOL_USDC"}), 400, "INVALID_SYMBOL")
    assert_error(client.get("/api/v1/trades", {"symbol": "SOL_USDC"}), 400, "INVALID_SYMBOL")


@pytest.mark.django_db(transaction=True)
def test_depth_levels_always_match_last_update_id_while_the_worker_writes(client, demo_markets, alice):
    """The worker adds one order of quantity 1 and bumps the counter per transaction: a snapshot
    whose quantities do not sum to its lastUpdateId would mix two batches."""
    sol = market_get("SOL_USDC")
    market_state_set(market=sol, last_update_id=0)
    batches = 150
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            for batch in range(1, batches + 1):
                with transaction.atomic():
                    order_make(
                        user=alice, market=sol, side=Side.ASK, price=Decimal(100 + batch % 7), quantity="1"
                    )
                    MarketState.objects.filter(market=sol).update(last_update_id=batch)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    seen = set()
    try:
        while thread.is_alive() or not seen:
            body = client.get("/api/v1/depth", {"symbol": "SOL_USDC"}).json()
            total = sum(Decimal(quantity) for _, quantity in body["asks"])
            assert total == Decimal(body["lastUpdateId"])
            seen.add(body["lastUpdateId"])
    finally:
        thread.join()
        close_old_connections()
    assert not failures
    final = client.get("/api/v1/depth", {"symbol": "SOL_USDC"}).json()
    assert final["lastUpdateId"] == str(batches)
    assert sum(Decimal(q) for _, q in final["asks"]) == batches


# --- trades -----------------------------------------------------------------------------------------


@pytest.fixture
def three_trades(sol, btc, alice, bob):
    t0 = datetime(2025, 7, 27, 17, 0, 0, 123000, tzinfo=UTC)
    trades = [
        trade_make(
            market=sol, maker=alice, taker=bob, taker_side=Side.BID, price="150.1", quantity="2", at=t0
        ),
        trade_make(
            market=sol,
            maker=bob,
            taker=alice,
            taker_side=Side.ASK,
            price="149.95",
            quantity="0.5",
            at=t0 + timedelta(seconds=1),
        ),
        trade_make(
            market=sol,
            maker=alice,
            taker=bob,
            taker_side=Side.BID,
            price="150",
            quantity="10",
            at=t0 + timedelta(minutes=2),
        ),
    ]
    trade_make(market=btc, maker=alice, taker=bob, taker_side=Side.BID, price="65000", quantity="0.1", at=t0)
    return t0, trades


def test_trades_newest_first_with_backpack_fields(client, three_trades):
    t0, _ = three_trades

    response = client.get("/api/v1/trades", {"symbol": "SOL_USDC"})

    assert response.status_code == 200
    assert response.json() == [
        {
            "id": 3,
            "isBuyerMaker": False,
            "price": "150",
            "quantity": "10",
            "quoteQuantity": "1500",
            "timestamp": ms(t0) + 120_000,
        },
        {
            "id": 2,
            "isBuyerMaker": True,
            "price": "149.95",
            "quantity": "0.5",
            "quoteQuantity": "74.975",
            "timestamp": ms(t0) + 1000,
        },
        {
            "id": 1,
            "isBuyerMaker": False,
            "price": "150.1",
            "quantity": "2",
            "quoteQuantity": "300.2",
            "timestamp": ms(t0),
        },
    ]
    assert ms(t0) == 1753635600123


def test_trades_limit_and_history_offset(client, three_trades):
    assert [t["id"] for t in client.get("/api/v1/trades", {"symbol": "SOL_USDC", "limit": 2}).json()] == [
        3,
        2,
    ]
    history = client.get("/api/v1/trades/history", {"symbol": "SOL_USDC", "limit": 1, "offset": 1}).json()
    assert [t["id"] for t in history] == [2]
    everything = client.get("/api/v1/trades/history", {"symbol": "SOL_USDC"}).json()
    assert [t["id"] for t in everything] == [3, 2, 1]
    assert client.get("/api/v1/trades/history", {"symbol": "SOL_USDC", "offset": 3}).json() == []
    assert [t["price"] for t in client.get("/api/v1/trades", {"symbol": "BTC_USDC"}).json()] == ["65000"]


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("/api/v1/trades", {"symbol": "SOL_USDC", "limit": "0"}, "INVALID_CLIENT_REQUEST"),
        ("/api/v1/trades", {"symbol": "SOL_USDC", "limit": "1001"}, "INVALID_CLIENT_REQUEST"),
        ("/api/v1/trades", {"symbol": "SOL_USDC", "limit": "ten"}, "INVALID_CLIENT_REQUEST"),
        ("/api/v1/trades", {"symbol": "DOGE_USDC"}, "INVALID_SYMBOL"),
        ("/api/v1/trades", {}, "INVALID_CLIENT_REQUEST"),
        ("/api/v1/trades/history", {"symbol": "SOL_USDC", "offset": "-1"}, "INVALID_CLIENT_REQUEST"),
        ("/api/v1/trades/history", {"symbol": "SOL_USDC", "offset": "9" * 30}, "INVALID_CLIENT_REQUEST"),
        ("/api/v1/trades/history", {"symbol": "SOL_USDC", "offset": "1.5"}, "INVALID_CLIENT_REQUEST"),
    ],
)
def test_trades_bad_parameters(client, sol, path, params, code):
    assert_error(client.get(path, params), 400, code)


# --- tickers ----------------------------------------------------------------------------------------


@pytest.fixture
def ticker_trades(clock, sol, alice, bob):
    """The 24h window is (2025-07-26 18:05:30.25, NOW]; its first minute is cut through."""

    def trade(at: datetime, price: str, quantity: str) -> None:
        trade_make(
            market=sol, maker=alice, taker=bob, taker_side=Side.BID, price=price, quantity=quantity, at=at
        )

    trade(NOW - timedelta(hours=25), "90", "1")  # only in the weekly window
    trade(datetime(2025, 7, 26, 18, 5, 20, tzinfo=UTC), "91", "1")  # same minute, before the cutoff
    trade(datetime(2025, 7, 26, 18, 5, 40, tzinfo=UTC), "95", "1")  # first of the day
    trade(datetime(2025, 7, 26, 18, 5, 50, tzinfo=UTC), "97", "2")
    trade(NOW - timedelta(hours=2), "110", "0.5")
    trade(NOW - timedelta(hours=1), "80", "1.5")
    trade(NOW - timedelta(minutes=1), "100", "3")


def test_ticker_rolling_day_from_candles_and_the_cut_minutes_fills(client, ticker_trades):
    response = client.get("/api/v1/ticker", {"symbol": "SOL_USDC"})

    assert response.status_code == 200
    assert response.json() == {
        "symbol": "SOL_USDC",
        "firstPrice": "95",
        "lastPrice": "100",
        "priceChange": "5",
        "priceChangePercent": "0.052632",
        "high": "110",
        "low": "80",
        "volume": "8",
        "quoteVolume": "764",
        "trades": "5",
    }


def test_ticker_week_and_sdk_b_interval(client, ticker_trades):
    week = client.get("/api/v1/ticker", {"symbol": "SOL_USDC", "interval": "1w"}).json()
    assert (week["firstPrice"], week["low"], week["trades"], week["volume"]) == ("90", "80", "7", "10")
    assert week["priceChangePercent"] == "0.111111"
    # SDK B always sends interval=1d; unknown extras are ignored.
    day = client.get("/api/v1/ticker", {"symbol": "SOL_USDC", "interval": "1d", "source": "x"}).json()
    assert day["trades"] == "5"


def test_tickers_list_every_visible_market_with_zeros_when_idle(client, ticker_trades, sol, btc, alice, bob):
    # BTC traded two days ago only: flat at its last price, no volume.
    trade_make(
        market=btc,
        maker=alice,
        taker=bob,
        taker_side=Side.ASK,
        price="64000.5",
        quantity="0.01",
        at=NOW - timedelta(days=2),
    )
    Market.objects.filter(symbol="ETH_USDC").update(visible=False)

    tickers = client.get("/api/v1/tickers").json()

    assert [t["symbol"] for t in tickers] == ["BTC_USDC", "BTC_USDC_PERP", "SOL_USDC", "SOL_USDC_PERP"]
    assert tickers[0] == {
        "symbol": "BTC_USDC",
        "firstPrice": "64000.5",
        "lastPrice": "64000.5",
        "priceChange": "0",
        "priceChangePercent": "0",
        "high": "64000.5",
        "low": "64000.5",
        "volume": "0",
        "quoteVolume": "0",
        "trades": "0",
    }
    # Never traded: every number a zero string, never null (ccxt parses "0"; SDKs compare strings).
    assert tickers[1] == {
        "symbol": "BTC_USDC_PERP",
        "firstPrice": "0",
        "lastPrice": "0",
        "priceChange": "0",
        "priceChangePercent": "0",
        "high": "0",
        "low": "0",
        "volume": "0",
        "quoteVolume": "0",
        "trades": "0",
    }
    assert tickers[2] == client.get("/api/v1/ticker", {"symbol": "SOL_USDC"}).json()
    weekly = client.get("/api/v1/tickers", {"interval": "1w"}).json()
    assert weekly[0]["trades"] == "1"


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("/api/v1/ticker", {}, "INVALID_CLIENT_REQUEST"),
        ("/api/v1/ticker", {"symbol": "XRP_USDC"}, "INVALID_SYMBOL"),
        ("/api/v1/ticker", {"symbol": "SOL_USDC", "interval": "1h"}, "INVALID_CLIENT_REQUEST"),
        ("/api/v1/tickers", {"interval": "1month"}, "INVALID_CLIENT_REQUEST"),
    ],
)
def test_ticker_bad_parameters(client, sol, path, params, code):
    assert_error(client.get(path, params), 400, code)


# --- klines -----------------------------------------------------------------------------------------


def klines(client, **params):
    response = client.get("/api/v1/klines", {"symbol": "SOL_USDC", **params})
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def kline_trades(clock, sol, alice, bob):
    def trade(at: datetime, price: str, quantity: str) -> None:
        trade_make(
            market=sol, maker=alice, taker=bob, taker_side=Side.BID, price=price, quantity=quantity, at=at
        )

    base = datetime(2025, 7, 27, 17, 0, tzinfo=UTC)
    trade(base + timedelta(seconds=5, microseconds=100), "100", "1")
    trade(base + timedelta(seconds=5, microseconds=900), "102", "1")
    trade(base + timedelta(seconds=40), "99", "2")
    trade(base + timedelta(minutes=1, seconds=1), "101", "1")
    trade(base + timedelta(minutes=4), "103", "1")
    trade(base + timedelta(hours=1, minutes=3), "104", "1")
    return base


def test_one_minute_klines_are_the_stored_candles(client, kline_trades):
    base = kline_trades
    rows = klines(client, interval="1m", startTime=seconds(base), endTime=seconds(base) + 300)

    assert rows == [
        {
            "start": "2025-07-27 17:00:00",
            "end": "2025-07-27 17:01:00",
            "open": "100",
            "high": "102",
            "low": "99",
            "close": "99",
            "volume": "4",
            "quoteVolume": "400",
            "trades": "3",
        },
        {
            "start": "2025-07-27 17:01:00",
            "end": "2025-07-27 17:02:00",
            "open": "101",
            "high": "101",
            "low": "101",
            "close": "101",
            "volume": "1",
            "quoteVolume": "101",
            "trades": "1",
        },
        {
            "start": "2025-07-27 17:04:00",
            "end": "2025-07-27 17:05:00",
            "open": "103",
            "high": "103",
            "low": "103",
            "close": "103",
            "volume": "1",
            "quoteVolume": "103",
            "trades": "1",
        },
    ]


def test_longer_intervals_aggregate_candles(client, kline_trades):
    base = kline_trades
    three = klines(client, interval="3m", startTime=seconds(base), endTime=seconds(base) + 600)
    assert [(k["start"], k["end"], k["open"], k["close"], k["high"], k["trades"]) for k in three] == [
        ("2025-07-27 17:00:00", "2025-07-27 17:03:00", "100", "101", "102", "4"),
        ("2025-07-27 17:03:00", "2025-07-27 17:06:00", "103", "103", "103", "1"),
    ]
    hourly = klines(client, interval="1h", startTime=seconds(base) - 3600)
    assert [(k["start"], k["open"], k["close"], k["low"], k["volume"], k["trades"]) for k in hourly] == [
        ("2025-07-27 17:00:00", "100", "103", "99", "6", "5"),
        ("2025-07-27 18:00:00", "104", "104", "104", "1", "1"),
    ]
    daily = klines(client, interval="1d", startTime=seconds(base) - 86400)
    assert [(k["start"], k["end"], k["trades"]) for k in daily] == [
        ("2025-07-27 00:00:00", "2025-07-28 00:00:00", "6")
    ]
    three_days = klines(client, interval="3d", startTime=seconds(base) - 5 * 86400)
    # Aligned on the Unix epoch: 2025-07-27 is day 20296 = 3 * 6765 + 1, its bucket starts 07-26.
    assert [(k["start"], k["end"]) for k in three_days] == [("2025-07-26 00:00:00", "2025-07-29 00:00:00")]
    weekly = klines(client, interval="1w", startTime=seconds(base) - 7 * 86400)
    assert [(k["start"], k["end"]) for k in weekly] == [("2025-07-21 00:00:00", "2025-07-28 00:00:00")]
    monthly = klines(client, interval="1month", startTime=seconds(datetime(2025, 7, 1, tzinfo=UTC)))
    assert [(k["start"], k["end"], k["volume"]) for k in monthly] == [
        ("2025-07-01 00:00:00", "2025-08-01 00:00:00", "7")
    ]


def test_one_second_klines_come_from_the_fills(client, kline_trades):
    base = kline_trades
    rows = klines(client, interval="1s", startTime=seconds(base), endTime=seconds(base) + 60)
    assert [
        (k["start"], k["end"], k["open"], k["high"], k["low"], k["close"], k["trades"]) for k in rows
    ] == [
        ("2025-07-27 17:00:05", "2025-07-27 17:00:06", "100", "102", "100", "102", "2"),
        ("2025-07-27 17:00:40", "2025-07-27 17:00:41", "99", "99", "99", "99", "1"),
    ]


def test_klines_cover_buckets_starting_in_start_inclusive_end_exclusive(client, kline_trades):
    base = kline_trades
    # 17:00:30 is inside the 17:00 bucket: that bucket does not start in the range.
    rows = klines(client, interval="1m", startTime=seconds(base) + 30, endTime=seconds(base) + 240)
    assert [k["start"] for k in rows] == ["2025-07-27 17:01:00"]
    # The last bucket is whole even though endTime cuts through it.
    rows = klines(client, interval="3m", startTime=seconds(base), endTime=seconds(base) + 60)
    assert [(k["start"], k["trades"]) for k in rows] == [("2025-07-27 17:00:00", "4")]
    # No endTime: up to now. ccxt's default request shape works.
    rows = klines(client, interval="1m", startTime=seconds(base))
    assert len(rows) == 4
    assert klines(client, interval="1m", startTime=seconds(base), endTime=seconds(base)) == []
    assert klines(client, interval="1m", startTime=seconds(NOW) + 5) == []


def test_klines_are_capped_at_1000_candles_from_the_start(client, clock, sol):
    first = datetime(2025, 7, 1, tzinfo=UTC)
    for minute in range(1001):
        candle_make(
            market=sol,
            start=first + timedelta(minutes=minute),
            open="1",
            high="1",
            low="1",
            close="1",
            volume="1",
            quote_volume="1",
            trades=1,
        )
    rows = klines(client, interval="1m", startTime=seconds(first))
    assert len(rows) == 1000
    assert (rows[0]["start"], rows[-1]["start"]) == ("2025-07-01 00:00:00", "2025-07-01 16:39:00")


def test_mark_and_index_klines_are_empty(client, kline_trades):
    base = kline_trades
    for price_type in ("Mark", "Index"):
        assert klines(client, interval="1m", startTime=seconds(base), priceType=price_type) == []
    assert len(klines(client, interval="1m", startTime=seconds(base), priceType="Last")) == 4


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"interval": "1m"}, "INVALID_CLIENT_REQUEST"),
        ({"startTime": "1753635600"}, "INVALID_CLIENT_REQUEST"),
        ({"interval": "2m", "startTime": "1753635600"}, "INVALID_CLIENT_REQUEST"),
        ({"interval": "1M", "startTime": "1753635600"}, "INVALID_CLIENT_REQUEST"),
        ({"interval": "1m", "startTime": "soon"}, "INVALID_CLIENT_REQUEST"),
        ({"interval": "1m", "startTime": "-1"}, "INVALID_CLIENT_REQUEST"),
        ({"interval": "1m", "startTime": "9" * 20}, "INVALID_CLIENT_REQUEST"),
        ({"interval": "1m", "startTime": "1753635600", "endTime": "1753635599"}, "INVALID_CLIENT_REQUEST"),
        ({"interval": "1m", "startTime": "1753635600", "priceType": "Bid"}, "INVALID_CLIENT_REQUEST"),
        ({"interval": "1m", "startTime": "1753635600", "symbol": "SOL_EUR"}, "INVALID_SYMBOL"),
    ],
)
def test_klines_bad_parameters(client, clock, sol, params, code):
    assert_error(client.get("/api/v1/klines", {"symbol": "SOL_USDC", **params}), 400, code)


def test_nothing_read_side_changes_state(client, three_trades):
    before = list(Order.objects.order_by("id").values())
    for path in ("/api/v1/depth", "/api/v1/trades", "/api/v1/ticker", "/api/v1/trades/history"):
        assert client.get(path, {"symbol": "SOL_USDC"}).status_code == 200
    assert list(Order.objects.order_by("id").values()) == before
