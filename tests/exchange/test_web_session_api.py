"""The web UI calls the private REST endpoints with its login session: CSRF-checked, Backpack's
error body, and never another user's data. Signed requests are covered by the API tests."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import include, path

from exchange.models import Asset, Order, OrderStatus
from exchange.selectors import balances_for_user
from exchange.services.deposits import deposit_credit
from tests.factories.trading import market_get, order_make, trade_make

urlpatterns = [
    path("", include("exchange.api.urls")),
    path("", include("exchange.web.urls")),
    path("", include("accounts.urls")),
]


@pytest.fixture(autouse=True)
def _web_settings(settings):  # type: ignore[no-untyped-def]
    settings.ROOT_URLCONF = __name__
    settings.ORDER_RESULT_WAIT_SECONDS = 0


def _credit(user, symbol: str, quantity: str) -> None:  # type: ignore[no-untyped-def]
    asset = Asset.objects.get(symbol=symbol)
    deposit_credit(user_id=user.pk, asset=asset, quantity=Decimal(quantity), source="administrator")


def _browser(user) -> tuple[Client, str]:  # type: ignore[no-untyped-def]
    """A logged-in client that enforces CSRF as a real browser session is checked, and its token."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/trade/SOL_USDC/")  # the page sets the CSRF cookie its script sends back
    return client, client.cookies["csrftoken"].value


def _post_order(client: Client, token: str | None, **fields: str) -> object:
    body = {
        "symbol": "SOL_USDC",
        "side": "Bid",
        "orderType": "Limit",
        "price": "100",
        "quantity": "2",
        **fields,
    }
    headers = {"HTTP_X_CSRFTOKEN": token} if token else {}
    return client.post("/api/v1/order", json.dumps(body), content_type="application/json", **headers)


def test_a_session_places_an_order_with_its_csrf_token(demo_markets, alice):  # type: ignore[no-untyped-def]
    _credit(alice, "USDC", "500")
    client, token = _browser(alice)

    response = _post_order(client, token)

    assert response.status_code == 200, response.content
    order = Order.objects.get(user=alice)
    assert response.json()["id"] == str(order.pk)
    assert (order.side, order.price, order.quantity) == ("Bid", Decimal("100"), Decimal("2"))
    balances = balances_for_user(user_id=alice.pk)["USDC"]
    assert (balances["available"], balances["locked"]) == (Decimal("300"), Decimal("200"))


def test_a_session_post_without_the_csrf_token_is_refused_and_changes_nothing(demo_markets, alice):  # type: ignore[no-untyped-def]
    _credit(alice, "USDC", "500")
    client, _token = _browser(alice)
    before = balances_for_user(user_id=alice.pk)

    response = _post_order(client, None)

    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN"
    assert "CSRF" in response.json()["message"]
    assert not Order.objects.exists()
    assert balances_for_user(user_id=alice.pk) == before


def test_a_session_cancel_without_the_csrf_token_is_refused(demo_markets, alice):  # type: ignore[no-untyped-def]
    order = order_make(user=alice, market=market_get("SOL_USDC"), side="Bid", price="100", quantity="1")
    client, _token = _browser(alice)

    response = client.delete(
        "/api/v1/order",
        json.dumps({"symbol": "SOL_USDC", "orderId": str(order.pk)}),
        content_type="application/json",
    )

    assert response.status_code == 403
    order.refresh_from_db()
    assert order.status == OrderStatus.NEW


def test_anonymous_calls_to_private_endpoints_are_refused_in_backpacks_format(client, demo_markets):  # type: ignore[no-untyped-def]
    for url in ("/api/v1/capital", "/api/v1/orders", "/wapi/v1/history/orders", "/wapi/v1/history/fills"):
        response = client.get(url)
        assert response.status_code == 401, url
        assert response.json()["code"] == "UNAUTHORIZED"


def test_a_session_sees_only_its_own_orders_fills_and_balances(demo_markets, alice, mallory):  # type: ignore[no-untyped-def]
    market = market_get("SOL_USDC")
    _credit(alice, "USDC", "500")
    _credit(mallory, "SOL", "9")
    mine = order_make(user=alice, market=market, side="Bid", price="100", quantity="1")
    theirs = order_make(user=mallory, market=market, side="Ask", price="120", quantity="3")
    from django.utils import timezone

    fill = trade_make(
        market=market,
        maker=mallory,
        taker=alice,
        taker_side="Bid",
        price="110",
        quantity="1",
        at=timezone.now(),
    )
    client, _token = _browser(alice)

    open_ids = [o["id"] for o in client.get("/api/v1/orders", {"symbol": "SOL_USDC"}).json()]
    history_ids = {o["id"] for o in client.get("/wapi/v1/history/orders").json()}
    fills = client.get("/wapi/v1/history/fills").json()
    capital = client.get("/api/v1/capital").json()

    assert open_ids == [str(mine.pk)]
    assert str(theirs.pk) not in history_ids
    assert str(fill.maker_order_id) not in history_ids
    assert history_ids == {str(mine.pk), str(fill.taker_order_id)}
    assert [(f["tradeId"], f["orderId"]) for f in fills] == [(fill.trade_id, str(fill.taker_order_id))]
    assert capital == {"USDC": {"available": "500", "locked": "0", "staked": "0"}}


def test_a_session_cannot_cancel_another_users_order(demo_markets, alice, mallory):  # type: ignore[no-untyped-def]
    theirs = order_make(user=mallory, market=market_get("SOL_USDC"), side="Ask", price="120", quantity="3")
    client, token = _browser(alice)

    response = client.delete(
        "/api/v1/order",
        json.dumps({"symbol": "SOL_USDC", "orderId": str(theirs.pk)}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )

    assert response.status_code == 404
    assert response.json()["code"] == "RESOURCE_NOT_FOUND"
    theirs.refresh_from_db()
    assert theirs.status == OrderStatus.NEW


def test_an_api_key_header_is_never_judged_by_the_cookie(demo_markets, alice):  # type: ignore[no-untyped-def]
    """A request that names an API key must be signed, even from a logged-in browser."""
    client, _token = _browser(alice)

    response = client.get("/api/v1/capital", HTTP_X_API_KEY="not-a-key")

    assert response.status_code == 401
