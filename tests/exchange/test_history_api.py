"""The caller's own orders and fills (/wapi/v1/history/orders, /wapi/v1/history/fills) and the
order/fill JSON shared with the order endpoints: exact Backpack JSON, scoped to the signer."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode, urlsplit

import ccxt
import pytest
import requests
import time_machine
from requests.adapters import BaseAdapter

from accounts.services.api_keys import api_key_create
from accounts.signing import sign
from exchange.api.order_json import fill_json, order_history_json, order_json
from exchange.models import Fill, Order, OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce
from exchange.selectors_market_data import fill_list_history, order_list_history
from tests.factories.trading import fill_make, fill_record_in_candle, market_get, order_make, trade_make

T0 = datetime(2025, 7, 27, 18, 5, 40, 897000, tzinfo=UTC)
T0_MS = 1753639540897
NOW = T0 + timedelta(hours=1)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


class Signer:
    def __init__(self, user) -> None:
        api_key, self.secret = api_key_create(user=user)
        self.key = api_key.public_key

    def headers(self, instruction: str, params: dict[str, str]) -> dict[str, str]:
        timestamp = str(time.time_ns() // 1_000_000)
        signed = "".join(f"{name}={value}&" for name, value in sorted(params.items()))
        message = f"instruction={instruction}&{signed}timestamp={timestamp}&window=5000"
        return {
            "X-API-Key": self.key,
            "X-Signature": sign(self.secret, message),
            "X-Timestamp": timestamp,
            "X-Window": "5000",
        }


@pytest.fixture
def alice_signer(alice):
    return Signer(alice)


@pytest.fixture
def mallory_signer(mallory):
    return Signer(mallory)


def signed_get(client, signer: Signer, path: str, instruction: str, **params: object):
    query = {name: str(value) for name, value in params.items()}
    url = f"{path}?{urlencode(sorted(query.items()))}" if query else path
    return client.get(url, headers=signer.headers(instruction, query))


def order_history(client, signer: Signer, **params: object):
    response = signed_get(client, signer, "/wapi/v1/history/orders", "orderHistoryQueryAll", **params)
    assert response.status_code == 200, response.content
    return response.json()


def fill_history(client, signer: Signer, **params: object):
    response = signed_get(client, signer, "/wapi/v1/history/fills", "fillHistoryQueryAll", **params)
    assert response.status_code == 200, response.content
    return response.json()


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message"}
    assert body["code"] == code


NULL_CONDITIONALS = {
    "relatedOrderId": None,
    "stopLossLimitPrice": None,
    "stopLossTriggerBy": None,
    "stopLossTriggerPrice": None,
    "strategyId": None,
    "takeProfitLimitPrice": None,
    "takeProfitTriggerBy": None,
    "takeProfitTriggerPrice": None,
}


# --- orders -----------------------------------------------------------------------------------------


@pytest.fixture
def orders(clock, demo_markets, alice, mallory):
    sol, perp = market_get("SOL_USDC"), market_get("BTC_USDC_PERP")
    resting = order_make(
        user=alice,
        market=sol,
        side=Side.BID,
        price="140",
        quantity="1.5",
        client_id=7,
        post_only=True,
        created_at=T0,
    )
    market_sell = order_make(
        user=alice,
        market=perp,
        side=Side.ASK,
        order_type=OrderType.MARKET,
        quantity="0.5",
        executed_quantity="0.5",
        executed_quote_quantity="32500.25",
        status=OrderStatus.FILLED,
        time_in_force=TimeInForce.IOC,
        reduce_only=True,
        created_at=T0 + timedelta(seconds=1),
    )
    cancelled = order_make(
        user=alice,
        market=sol,
        side=Side.ASK,
        price="160",
        quantity="2",
        status=OrderStatus.CANCELLED,
        expiry_reason="PostOnlyTaker",
        self_trade_prevention=SelfTradePrevention.REJECT_BOTH,
        created_at=T0 + timedelta(seconds=2),
    )
    trigger = order_make(
        user=alice,
        market=sol,
        side=Side.ASK,
        price="170",
        quantity="1",
        trigger_price="165",
        trigger_by="LastPrice",
        status=OrderStatus.TRIGGER_PENDING,
        is_applied=False,
        created_at=T0 + timedelta(seconds=3),
    )
    theirs = order_make(user=mallory, market=sol, side=Side.BID, price="139", quantity="5", created_at=T0)
    return {
        "resting": resting,
        "market_sell": market_sell,
        "cancelled": cancelled,
        "trigger": trigger,
        "theirs": theirs,
    }


def test_live_order_json_for_limit_market_and_trigger_orders(orders):
    resting = Order.objects.select_related("market").get(pk=orders["resting"].pk)
    assert order_json(resting) == {
        "clientId": 7,
        "createdAt": T0_MS,
        "executedQuantity": "0",
        "executedQuoteQuantity": "0",
        "id": str(resting.pk),
        "orderType": "Limit",
        "postOnly": True,
        "price": "140",
        "quantity": "1.5",
        "reduceOnly": False,
        "selfTradePrevention": "RejectTaker",
        "side": "Bid",
        "status": "New",
        "symbol": "SOL_USDC",
        "timeInForce": "GTC",
        "triggerBy": None,
        "triggerPrice": None,
        "triggerQuantity": None,
        "triggeredAt": None,
        **NULL_CONDITIONALS,
    }
    market_sell = orders["market_sell"]
    assert order_json(market_sell) == {
        "clientId": None,
        "createdAt": T0_MS + 1000,
        "executedQuantity": "0.5",
        "executedQuoteQuantity": "32500.25",
        "id": str(market_sell.pk),
        "orderType": "Market",
        "quantity": "0.5",
        "quoteQuantity": None,
        "reduceOnly": True,
        "selfTradePrevention": "RejectTaker",
        "side": "Ask",
        "status": "Filled",
        "symbol": "BTC_USDC_PERP",
        "timeInForce": "IOC",
        "triggerBy": None,
        "triggerPrice": None,
        "triggerQuantity": None,
        "triggeredAt": None,
        **NULL_CONDITIONALS,
    }
    trigger = orders["trigger"]
    live = order_json(trigger)
    # ccxt's amount falls back to triggerQuantity: filled in from quantity.
    assert (live["triggerPrice"], live["triggerQuantity"], live["triggerBy"]) == ("165", "1", "LastPrice")
    assert (live["status"], live["createdAt"]) == ("TriggerPending", T0_MS + 3000)

    trigger.quantity, trigger.trigger_quantity = None, Decimal("0.75")
    trigger.triggered_at = T0 + timedelta(seconds=4, milliseconds=5)
    live = order_json(trigger)
    assert (live["quantity"], live["triggerQuantity"], live["triggeredAt"]) == (None, "0.75", T0_MS + 4005)


def test_history_lists_only_the_callers_orders_newest_first(client, orders, alice_signer):
    body = order_history(client, alice_signer)

    o = orders
    assert [row["id"] for row in body] == [
        str(o[name].pk) for name in ("trigger", "cancelled", "market_sell", "resting")
    ]
    common = {"reduceOnly": False, "expiryReason": None, "systemOrderType": None, **NULL_CONDITIONALS}
    assert body == [
        {
            **common,
            "clientId": None,
            "createdAt": "2025-07-27T18:05:43.897",
            "executedQuantity": "0",
            "executedQuoteQuantity": "0",
            "id": str(o["trigger"].pk),
            "orderType": "Limit",
            "postOnly": False,
            "price": "170",
            "quantity": "1",
            "quoteQuantity": None,
            "selfTradePrevention": "RejectTaker",
            "side": "Ask",
            "status": "TriggerPending",
            "symbol": "SOL_USDC",
            "timeInForce": "GTC",
            "triggerBy": "LastPrice",
            "triggerPrice": "165",
            "triggerQuantity": "1",
        },
        {
            **common,
            "clientId": None,
            "createdAt": "2025-07-27T18:05:42.897",
            "executedQuantity": "0",
            "executedQuoteQuantity": "0",
            "expiryReason": "PostOnlyTaker",
            "id": str(o["cancelled"].pk),
            "orderType": "Limit",
            "postOnly": False,
            "price": "160",
            "quantity": "2",
            "quoteQuantity": None,
            "selfTradePrevention": "RejectBoth",
            "side": "Ask",
            "status": "Cancelled",
            "symbol": "SOL_USDC",
            "timeInForce": "GTC",
            "triggerBy": None,
            "triggerPrice": None,
            "triggerQuantity": None,
        },
        {
            **common,
            "clientId": None,
            "createdAt": "2025-07-27T18:05:41.897",
            "executedQuantity": "0.5",
            "executedQuoteQuantity": "32500.25",
            "id": str(o["market_sell"].pk),
            "orderType": "Market",
            "postOnly": False,
            "price": None,
            "quantity": "0.5",
            "quoteQuantity": None,
            "reduceOnly": True,
            "selfTradePrevention": "RejectTaker",
            "side": "Ask",
            "status": "Filled",
            "symbol": "BTC_USDC_PERP",
            "timeInForce": "IOC",
            "triggerBy": None,
            "triggerPrice": None,
            "triggerQuantity": None,
        },
        {
            **common,
            "clientId": 7,
            "createdAt": "2025-07-27T18:05:40.897",
            "executedQuantity": "0",
            "executedQuoteQuantity": "0",
            "id": str(o["resting"].pk),
            "orderType": "Limit",
            "postOnly": True,
            "price": "140",
            "quantity": "1.5",
            "quoteQuantity": None,
            "selfTradePrevention": "RejectTaker",
            "side": "Bid",
            "status": "New",
            "symbol": "SOL_USDC",
            "timeInForce": "GTC",
            "triggerBy": None,
            "triggerPrice": None,
            "triggerQuantity": None,
        },
    ]
    assert body[0] == order_history_json(o["trigger"])


def test_history_filters_sorting_and_pages(client, orders, alice_signer):
    def ids(**params: object) -> list[str]:
        return [row["id"] for row in order_history(client, alice_signer, **params)]

    o = {name: str(order.pk) for name, order in orders.items()}
    assert ids(sortDirection="Asc") == [o["resting"], o["market_sell"], o["cancelled"], o["trigger"]]
    assert ids(sortDirection="asc", limit=2, offset=1) == [o["market_sell"], o["cancelled"]]
    assert ids(symbol="SOL_USDC") == [o["trigger"], o["cancelled"], o["resting"]]
    assert ids(marketType="PERP") == [o["market_sell"]]
    assert ids(marketType="SPOT,PERP", limit=1) == [o["trigger"]]
    assert ids(marketType="RFQ") == []
    assert ids(orderId=o["cancelled"], symbol="SOL_USDC") == [o["cancelled"]]
    assert ids(orderId=o["cancelled"], symbol="BTC_USDC_PERP") == []
    assert ids(strategyId="123") == []
    assert ids(offset=4) == []


def test_another_accounts_orders_never_appear(client, orders, alice_signer, mallory_signer):
    theirs = str(orders["theirs"].pk)
    # ccxt fetchOrder step 1: alice asks for mallory's order by id.
    assert order_history(client, alice_signer, orderId=theirs, symbol="SOL_USDC") == []
    assert [row["id"] for row in order_history(client, mallory_signer)] == [theirs]
    assert order_history(client, mallory_signer, orderId=str(orders["resting"].pk)) == []


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": "0"}, "INVALID_CLIENT_REQUEST"),
        ({"limit": "1001"}, "INVALID_CLIENT_REQUEST"),
        ({"offset": "-1"}, "INVALID_CLIENT_REQUEST"),
        ({"offset": "x"}, "INVALID_CLIENT_REQUEST"),
        ({"orderId": "abc"}, "INVALID_CLIENT_REQUEST"),
        ({"orderId": "9" * 25}, "INVALID_CLIENT_REQUEST"),
        ({"sortDirection": "Sideways"}, "INVALID_CLIENT_REQUEST"),
        ({"marketType": "FUTURES"}, "INVALID_CLIENT_REQUEST"),
        ({"symbol": "NOPE_USDC"}, "INVALID_SYMBOL"),
    ],
)
def test_order_history_bad_parameters(client, orders, alice_signer, params, code):
    response = signed_get(client, alice_signer, "/wapi/v1/history/orders", "orderHistoryQueryAll", **params)
    assert_error(response, 400, code)


def test_history_needs_a_signature_for_its_own_instruction(client, orders, alice_signer):
    assert_error(client.get("/wapi/v1/history/orders"), 401, "UNAUTHORIZED")
    assert_error(client.get("/wapi/v1/history/fills"), 401, "UNAUTHORIZED")
    wrong = signed_get(client, alice_signer, "/wapi/v1/history/orders", "fillHistoryQueryAll")
    assert_error(wrong, 401, "INVALID_SIGNATURE")


def test_order_history_reads_in_one_query(orders, alice, django_assert_num_queries):
    with django_assert_num_queries(1):
        rendered = [order_history_json(order) for order in order_list_history(user_id=alice.pk)]
    assert len(rendered) == 4


# --- fills ------------------------------------------------------------------------------------------


@pytest.fixture
def fills(clock, demo_markets, alice, bob, mallory):
    sol, perp = market_get("SOL_USDC"), market_get("BTC_USDC_PERP")
    # Alice's resting sell (client id 42) is hit by bob: she is maker and receives USDC.
    alice_sell = order_make(
        user=alice,
        market=sol,
        side=Side.ASK,
        price="150",
        quantity="2",
        executed_quantity="2",
        status=OrderStatus.FILLED,
        client_id=42,
        created_at=T0,
    )
    bob_buy = order_make(
        user=bob,
        market=sol,
        side=Side.BID,
        order_type=OrderType.MARKET,
        quantity="2",
        status=OrderStatus.FILLED,
        created_at=T0,
    )
    first = fill_make(
        maker_order=alice_sell,
        taker_order=bob_buy,
        price="150",
        quantity="2",
        maker_fee="0.24",
        taker_fee="0.002",
        created_at=T0,
    )
    fill_record_in_candle(first)
    # Alice takes mallory's offer: taker, receives SOL.
    second = trade_make(
        market=sol,
        maker=mallory,
        taker=alice,
        taker_side=Side.BID,
        price="151",
        quantity="1",
        taker_fee="0.001",
        at=T0 + timedelta(seconds=1),
    )
    # A self-trade (selfTradePrevention=Allow): both sides are alice's.
    self_trade = trade_make(
        market=sol,
        maker=alice,
        taker=alice,
        taker_side=Side.ASK,
        price="149.5",
        quantity="0.5",
        maker_fee="0.0004",
        taker_fee="0.07475",
        at=T0 + timedelta(seconds=2),
    )
    # Bob and mallory only.
    others = trade_make(
        market=sol,
        maker=bob,
        taker=mallory,
        taker_side=Side.BID,
        price="152",
        quantity="3",
        at=T0 + timedelta(seconds=3),
    )
    perp_fill = trade_make(
        market=perp,
        maker=bob,
        taker=alice,
        taker_side=Side.BID,
        price="65000.5",
        quantity="0.01",
        taker_fee="0.0000325",
        at=T0 + timedelta(seconds=4),
    )
    return {"first": first, "second": second, "self": self_trade, "others": others, "perp": perp_fill}


def test_fill_history_shows_the_callers_side_of_each_fill(client, fills, alice_signer):
    body = fill_history(client, alice_signer, fillType="User")

    f = fills
    assert body == [
        {
            "clientId": None,
            "fee": "0.0000325",
            "feeSymbol": "BTC",
            "isMaker": False,
            "orderId": str(f["perp"].taker_order_id),
            "price": "65000.5",
            "quantity": "0.01",
            "side": "Bid",
            "symbol": "BTC_USDC_PERP",
            "systemOrderType": None,
            "timestamp": "2025-07-27T18:05:44.897",
            "tradeId": 1,
        },
        {
            "clientId": None,
            "fee": "0.07475",
            "feeSymbol": "USDC",
            "isMaker": False,
            "orderId": str(f["self"].taker_order_id),
            "price": "149.5",
            "quantity": "0.5",
            "side": "Ask",
            "symbol": "SOL_USDC",
            "systemOrderType": None,
            "timestamp": "2025-07-27T18:05:42.897",
            "tradeId": 3,
        },
        {
            "clientId": None,
            "fee": "0.0004",
            "feeSymbol": "SOL",
            "isMaker": True,
            "orderId": str(f["self"].maker_order_id),
            "price": "149.5",
            "quantity": "0.5",
            "side": "Bid",
            "symbol": "SOL_USDC",
            "systemOrderType": None,
            "timestamp": "2025-07-27T18:05:42.897",
            "tradeId": 3,
        },
        {
            "clientId": None,
            "fee": "0.001",
            "feeSymbol": "SOL",
            "isMaker": False,
            "orderId": str(f["second"].taker_order_id),
            "price": "151",
            "quantity": "1",
            "side": "Bid",
            "symbol": "SOL_USDC",
            "systemOrderType": None,
            "timestamp": "2025-07-27T18:05:41.897",
            "tradeId": 2,
        },
        {
            "clientId": "42",
            "fee": "0.24",
            "feeSymbol": "USDC",
            "isMaker": True,
            "orderId": str(f["first"].maker_order_id),
            "price": "150",
            "quantity": "2",
            "side": "Ask",
            "symbol": "SOL_USDC",
            "systemOrderType": None,
            "timestamp": "2025-07-27T18:05:40.897",
            "tradeId": 1,
        },
    ]
    # Without fillType (SDKs) the same fills: every fill Satchel records is a User fill.
    assert fill_history(client, alice_signer) == body


def test_fill_history_filters_sorting_and_pages(client, fills, alice_signer):
    def keys(**params: object) -> list[tuple[str, int, bool]]:
        rows = fill_history(client, alice_signer, **params)
        return [(row["symbol"], row["tradeId"], row["isMaker"]) for row in rows]

    everything = keys()
    assert keys(sortDirection="Asc") == everything[::-1]
    assert keys(limit=2, offset=1) == everything[1:3]
    assert keys(symbol="SOL_USDC") == everything[1:]
    assert keys(marketType="PERP") == [("BTC_USDC_PERP", 1, False)]
    # from/to are inclusive milliseconds.
    assert keys(**{"from": T0_MS + 1000, "to": T0_MS + 2000}) == everything[1:4]
    assert keys(**{"from": T0_MS + 4001}) == []
    assert keys(to=T0_MS) == [("SOL_USDC", 1, True)]
    first = fills["first"]
    assert keys(orderId=first.maker_order_id) == [("SOL_USDC", 1, True)]
    # An order on the other side of alice's fill is not hers: filtering by it finds nothing.
    assert keys(orderId=first.taker_order_id) == []
    assert keys(orderId=fills["self"].taker_order_id) == [("SOL_USDC", 3, False)]
    for fill_type in ("Liquidation", "Adl", "CollateralConversion"):
        assert keys(fillType=fill_type) == []


def test_another_accounts_fills_never_appear(client, fills, mallory_signer):
    rows = fill_history(client, mallory_signer)
    assert [(row["tradeId"], row["isMaker"], row["side"], row["fee"]) for row in rows] == [
        (4, False, "Bid", "0"),
        (2, True, "Ask", "0"),
    ]
    assert fill_history(client, mallory_signer, orderId=fills["first"].maker_order_id) == []


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"from": "yesterday"}, "INVALID_CLIENT_REQUEST"),
        ({"to": "-5"}, "INVALID_CLIENT_REQUEST"),
        ({"from": "9" * 30}, "INVALID_CLIENT_REQUEST"),
        ({"fillType": "Everything"}, "INVALID_CLIENT_REQUEST"),
        ({"limit": "1000.5"}, "INVALID_CLIENT_REQUEST"),
        ({"sortDirection": "Up"}, "INVALID_CLIENT_REQUEST"),
        ({"marketType": "SPOT,SWAP"}, "INVALID_CLIENT_REQUEST"),
        ({"symbol": "SOL-USDC"}, "INVALID_SYMBOL"),
    ],
)
def test_fill_history_bad_parameters(client, fills, alice_signer, params, code):
    response = signed_get(client, alice_signer, "/wapi/v1/history/fills", "fillHistoryQueryAll", **params)
    assert_error(response, 400, code)


def test_fill_history_reads_in_two_queries(fills, alice, django_assert_num_queries):
    with django_assert_num_queries(2):
        rendered = [
            fill_json(uf.fill, alice.pk, is_maker=uf.is_maker) for uf in fill_list_history(user_id=alice.pk)
        ]
    assert len(rendered) == 5


def test_fill_json_refuses_a_user_who_is_not_on_that_side(fills, alice, bob, mallory):
    fill = Fill.objects.get(pk=fills["second"].pk)
    assert fill_json(fill, mallory.pk)["isMaker"] is True
    with pytest.raises(ValueError, match="is not the taker"):
        fill_json(fill, mallory.pk, is_maker=False)
    with pytest.raises(ValueError, match="is not the taker"):
        fill_json(fill, bob.pk)
    assert fill_json(fill, alice.pk)["isMaker"] is False


# --- the unmodified ccxt client, in process -----------------------------------------------------------


class DjangoTestClientAdapter(BaseAdapter):
    """Routes ccxt's `requests` session into Django's test client: ccxt's own signing, URL building,
    parsing and error mapping run unchanged, with no server and no network."""

    def __init__(self, client) -> None:
        super().__init__()
        self.client = client

    def send(self, request, **kwargs):  # type: ignore[no-untyped-def]
        parts = urlsplit(request.url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {name: value for name, value in request.headers.items() if name.lower().startswith("x-")}
        if request.method == "GET":
            answer = self.client.get(path, headers=headers)
        else:
            handler = getattr(self.client, request.method.lower())
            answer = handler(path, data=request.body or b"", content_type="application/json", headers=headers)
        response = requests.Response()
        response.status_code = answer.status_code
        response._content = answer.content
        response.headers.update(answer.headers)
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass


def test_ccxt_parses_every_read_endpoint(client, fills, alice, alice_signer):
    sol = market_get("SOL_USDC")
    order_make(user=alice, market=sol, side=Side.BID, price="140", quantity="1", client_id=9)
    url = "http://testserver"
    exchange = ccxt.backpack(
        {
            "apiKey": alice_signer.key,
            "secret": alice_signer.secret,
            "urls": {"api": {"public": url, "private": url}},
        }
    )
    exchange.session.mount(url, DjangoTestClientAdapter(client))

    book = exchange.fetch_order_book("SOL/USDC", 7)
    assert (book["bids"], book["asks"], book["nonce"]) == ([[140.0, 1.0]], [], 0)
    assert book["timestamp"] == T0_MS + 3_600_000
    ticker = exchange.fetch_ticker("SOL/USDC")
    assert (ticker["open"], ticker["last"], ticker["baseVolume"]) == (150.0, 152.0, 6.5)
    assert exchange.fetch_ticker("ETH/USDC")["last"] is None  # "0" strings: no crash, no price
    trades = exchange.fetch_trades("SOL/USDC")
    assert [(t["id"], t["side"], t["price"]) for t in trades] == [
        ("1", "buy", 150.0),
        ("2", "buy", 151.0),
        ("3", "sell", 149.5),
        ("4", "buy", 152.0),
    ]
    candles = exchange.fetch_ohlcv("SOL/USDC", "1m")
    assert candles == [[int(T0.timestamp()) * 1000 - 40_000, 150.0, 152.0, 149.5, 152.0, 6.5]]
    assert exchange.fetch_ohlcv("SOL/USDC", "1m", params={"price": "mark"}) == []
    mine = exchange.fetch_my_trades("SOL/USDC")
    assert len(mine) == 4
    first = next(trade for trade in mine if trade["id"] == "1")
    assert (first["takerOrMaker"], first["side"], first["timestamp"], first["order"]) == (
        "maker",
        "sell",
        T0_MS,
        str(fills["first"].maker_order_id),
    )
    assert first["fee"] == {"cost": 0.24, "currency": "USDC"}
    orders = exchange.fetch_orders("SOL/USDC")
    resting = next(order for order in orders if order["clientOrderId"] == "9")
    assert (resting["status"], resting["amount"], resting["type"]) == ("open", 1.0, "limit")
    assert exchange.fetch_order(resting["id"], "SOL/USDC")["id"] == resting["id"]
    with pytest.raises(ccxt.BadSymbol):
        exchange.public_get_api_v1_depth({"symbol": "NOPE_USDC"})
