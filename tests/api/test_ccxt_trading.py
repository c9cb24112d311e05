"""Spot trading through the unmodified ccxt `backpack` client against a live server with its workers."""

from __future__ import annotations

from decimal import Decimal

import ccxt
import pytest

pytestmark = pytest.mark.live


def client(server, account) -> ccxt.backpack:
    exchange = ccxt.backpack(
        {
            "apiKey": account["api_key"],
            "secret": account["api_secret"],
            "urls": {"api": {"public": server.url, "private": server.url}},
        }
    )
    exchange.load_markets()
    return exchange


def balances(exchange) -> dict[str, dict[str, Decimal]]:
    raw = exchange.private_get_api_v1_capital()
    return {asset: {k: Decimal(v) for k, v in row.items()} for asset, row in raw.items()}


# The spot markets these tests trade on; each test states its books and fills exactly.
MARKETS = ("SOL_USDC", "ETH_USDC", "BTC_USDC")


@pytest.fixture(scope="module", autouse=True)
def empty_books(satchel_server):
    """The live server is shared by the session: whatever other tests left resting on these books
    (a crash or takeover burst) would fill these tests' orders, so they start on empty books, and
    leave them empty."""
    satchel_server.clear_books(*MARKETS)
    yield
    satchel_server.clear_books(*MARKETS)


@pytest.fixture(scope="module")
def traders(satchel_server):
    maker = satchel_server.create_account("maker@example.com", "USDC=10000", "SOL=100")
    taker = satchel_server.create_account("taker@example.com", "USDC=10000", "SOL=100")
    return client(satchel_server, maker), client(satchel_server, taker)


def test_limit_order_rests_then_fills_against_a_taker(satchel_server, traders):
    maker, taker = traders
    before_maker, before_taker = balances(maker), balances(taker)
    order = maker.create_order("SOL/USDC", "limit", "sell", 2, 150)
    assert (order["status"], order["filled"], order["price"]) == ("open", 0, 150)
    assert balances(maker)["SOL"]["locked"] == Decimal("2")
    book = taker.fetch_order_book("SOL/USDC")
    assert book["asks"][0] == [150, 2]

    fill = taker.create_order("SOL/USDC", "limit", "buy", 1.5, 151)
    assert (fill["status"], fill["filled"], fill["cost"]) == ("closed", 1.5, 225)

    after_maker, after_taker = balances(maker), balances(taker)
    # maker: sold 1.5 SOL at 150 as maker (0.08% of 225 USDC = 0.18); 0.5 SOL still locked
    assert after_maker["USDC"]["available"] == before_maker["USDC"]["available"] + Decimal("225") - Decimal(
        "0.18"
    )
    assert after_maker["SOL"]["locked"] == Decimal("0.5")
    assert after_maker["SOL"]["available"] == before_maker["SOL"]["available"] - Decimal("2")
    # taker: bought 1.5 SOL paying 225 USDC (price improvement from 151 released), fee 0.1% of 1.5 SOL
    assert after_taker["USDC"]["available"] == before_taker["USDC"]["available"] - Decimal("225")
    assert after_taker["USDC"].get("locked", Decimal(0)) == 0
    assert after_taker["SOL"]["available"] == before_taker["SOL"]["available"] + Decimal("1.5") - Decimal(
        "0.0015"
    )

    trades = taker.fetch_my_trades("SOL/USDC")
    assert [(t["side"], t["takerOrMaker"], t["amount"], t["price"]) for t in trades] == [
        ("buy", "taker", 1.5, 150)
    ]
    maker_trades = maker.fetch_my_trades("SOL/USDC")
    assert maker_trades[-1]["takerOrMaker"] == "maker"
    assert maker_trades[-1]["fee"] == {"cost": 0.18, "currency": "USDC"}
    maker.cancel_all_orders("SOL/USDC")
    satchel_server.manage("check_ledger")


@pytest.fixture(scope="module")
def pair(satchel_server):
    """Two fresh accounts per scenario keep balances easy to state exactly."""
    counter = iter(range(1000))

    def make() -> tuple[ccxt.backpack, ccxt.backpack]:
        n = next(counter)
        first = satchel_server.create_account(f"a{n}@pair.test", "USDC=100000", "ETH=10", "BTC=1", "SOL=10")
        second = satchel_server.create_account(f"b{n}@pair.test", "USDC=100000", "ETH=10", "BTC=1", "SOL=10")
        return client(satchel_server, first), client(satchel_server, second)

    return make


def test_market_orders_by_quantity_and_by_cost(pair):
    maker, taker = pair()
    maker.create_order("ETH/USDC", "limit", "sell", 1, 2000)
    maker.create_order("ETH/USDC", "limit", "sell", 1, 2010)
    before = balances(taker)
    by_quantity = taker.create_order("ETH/USDC", "market", "buy", 1.5)
    assert (by_quantity["status"], by_quantity["filled"], by_quantity["cost"]) == ("closed", 1.5, 3005)
    by_cost = taker.create_order("ETH/USDC", "market", "buy", None, None, {"cost": 1005})
    assert (by_cost["filled"], by_cost["cost"]) == (0.5, 1005)
    after = balances(taker)
    assert after["USDC"]["available"] == before["USDC"]["available"] - Decimal("4010")
    assert after["USDC"].get("locked", 0) == 0  # the unspent hold of the market buy came back
    assert after["ETH"]["available"] == before["ETH"]["available"] + Decimal("2") - Decimal("0.002")
    sold = maker.create_order("ETH/USDC", "market", "sell", 0.1)
    assert (sold["status"], sold["filled"]) == ("canceled", 0)  # nothing to sell into: expired


def test_post_only_ioc_fok_and_insufficient_funds(pair):
    maker, taker = pair()
    resting = maker.create_order("BTC/USDC", "limit", "sell", 0.5, 60000)
    with pytest.raises(ccxt.InvalidOrder, match="immediately match"):
        taker.create_order("BTC/USDC", "limit", "buy", 0.1, 60000, {"postOnly": True})
    ioc = taker.create_order("BTC/USDC", "limit", "buy", 0.8, 60000, {"timeInForce": "IOC"})
    assert (ioc["status"], ioc["filled"]) == ("canceled", 0.5)  # the rest expired, never rested
    maker.create_order("BTC/USDC", "limit", "sell", 0.2, 61000)
    before = balances(taker)
    fok = taker.create_order("BTC/USDC", "limit", "buy", 0.3, 61000, {"timeInForce": "FOK"})
    assert (fok["status"], fok["filled"]) == ("canceled", 0)
    assert balances(taker) == before
    with pytest.raises(ccxt.InsufficientFunds):
        taker.create_order("BTC/USDC", "limit", "buy", 2, 60000)
    assert balances(taker) == before
    assert maker.fetch_order(resting["id"], "BTC/USDC")["status"] == "closed"


def test_open_orders_cancel_and_isolation(pair, satchel_server):
    alice, mallory = pair()
    one = alice.create_order("ETH/USDC", "limit", "buy", 1, 1000, {"clientOrderId": "42"})
    two = alice.create_order("ETH/USDC", "limit", "buy", 2, 999)
    assert one["clientOrderId"] == "42"
    open_ids = {o["id"] for o in alice.fetch_open_orders("ETH/USDC")}
    assert {one["id"], two["id"]} <= open_ids
    assert alice.fetch_open_order(one["id"], "ETH/USDC")["amount"] == 1
    # mallory can neither see nor cancel alice's orders
    assert not {o["id"] for o in mallory.fetch_open_orders("ETH/USDC")} & open_ids
    with pytest.raises(ccxt.ExchangeNotAvailable):  # RESOURCE_NOT_FOUND maps here in ccxt
        mallory.cancel_order(one["id"], "ETH/USDC")
    with pytest.raises(ccxt.ExchangeNotAvailable):
        mallory.fetch_open_order(one["id"], "ETH/USDC")
    assert alice.fetch_open_order(one["id"], "ETH/USDC")["status"] == "open"
    cancelled = alice.cancel_order(one["id"], "ETH/USDC")
    assert cancelled["status"] == "canceled"
    assert balances(alice)["USDC"]["locked"] == Decimal("1998")
    remaining = alice.cancel_all_orders("ETH/USDC")
    assert [o["id"] for o in remaining] == [two["id"]]
    assert balances(alice)["USDC"].get("locked", 0) == 0
    history = {o["id"]: o["status"] for o in alice.fetch_orders("ETH/USDC")}
    assert (history[one["id"]], history[two["id"]]) == ("canceled", "canceled")
    satchel_server.manage("check_ledger")


def test_batch_orders_and_public_market_data(pair):
    maker, taker = pair()
    results = maker.create_orders(
        [
            {"symbol": "SOL/USDC", "type": "limit", "side": "buy", "amount": 1, "price": 90},
            {"symbol": "SOL/USDC", "type": "limit", "side": "buy", "amount": 1, "price": 10**9},
        ]
    )
    # ccxt sorts parsed orders by time, so the refused one (no id, no time) need not stay second
    placed = [order for order in results if order["id"] is not None]
    assert [(o["status"], o["price"]) for o in placed] == [("open", 90)]
    assert len(results) == 2  # the other was refused (funds) without failing the batch
    book = taker.fetch_order_book("SOL/USDC")
    assert [90, 1] in book["bids"]
    assert isinstance(book["nonce"], int)
    taker.create_order("SOL/USDC", "market", "sell", 1)
    trades = taker.fetch_trades("SOL/USDC")
    assert (trades[-1]["price"], trades[-1]["side"], trades[-1]["amount"]) == (
        90,
        "sell",
        1,
    )  # ccxt sorts oldest first
    ticker = taker.fetch_ticker("SOL/USDC")
    assert ticker["last"] == 90
    tickers = taker.fetch_tickers()
    assert tickers["SOL/USDC"]["last"] == 90
    # ccxt's default end is now, truncated to the second, and a candle must start before the end:
    # in the first second of a minute the trade's own candle would be left out (it was, once),
    # so the window is asked to end a minute ahead.
    candles = taker.fetch_ohlcv("SOL/USDC", "1m", params={"until": trades[-1]["timestamp"] + 60_000})
    assert candles[-1][0] == trades[-1]["timestamp"] // 60_000 * 60_000  # the trade's minute
    assert candles[-1][4] == 90  # closes at the trade
    assert candles[-1][5] >= 1
