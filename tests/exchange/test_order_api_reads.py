"""The signed order path's reads (API key with its user, market with its assets, the caller's open
order) are plain SQL for speed (docs/PERFORMANCE.md, REST API): they must still be read fresh, so
a revoked key, a deactivated user or a halted market takes effect on the very next request."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from accounts.services.api_keys import api_key_create, api_key_revoke
from accounts.signing import sign
from exchange.models import CommandKind, Market, MarketCommand, Order, OrderBookState
from exchange.services.deposits import deposit_credit


class Signer:
    def __init__(self, user) -> None:  # type: ignore[no-untyped-def]
        self.api_key, self.secret = api_key_create(user=user)

    def send(self, client, method: str, instruction: str, body: dict[str, str]):  # type: ignore[no-untyped-def]
        timestamp = str(time.time_ns() // 1_000_000)
        pairs = "&".join(f"{name}={value}" for name, value in sorted(body.items()))
        headers = {
            "X-API-Key": self.api_key.public_key,
            "X-Signature": sign(
                self.secret, f"instruction={instruction}&{pairs}&timestamp={timestamp}&window=5000"
            ),
            "X-Timestamp": timestamp,
            "X-Window": "5000",
        }
        return client.generic(
            method, "/api/v1/order", json.dumps(body), content_type="application/json", headers=headers
        )


BID = {"orderType": "Limit", "price": "100", "quantity": "0.5", "side": "Bid", "symbol": "SOL_USDC"}


@pytest.fixture
def alice_signer(demo_markets, alice, settings) -> Signer:  # type: ignore[no-untyped-def]
    settings.ORDER_RESULT_WAIT_SECONDS = 0  # no matching worker here: orders stay as accepted
    deposit_credit(
        user_id=alice.pk, asset=demo_markets["USDC"], quantity=Decimal("1000"), source="administrator"
    )
    return Signer(alice)


def _stored() -> tuple[int, int]:
    return Order.objects.count(), MarketCommand.objects.count()


@pytest.mark.django_db(transaction=True)
def test_a_signed_order_is_placed_found_and_cancelled_only_by_its_owner(client, alice_signer, mallory):
    placed = alice_signer.send(client, "POST", "orderExecute", {**BID, "clientId": "7"})
    assert placed.status_code == 200, placed.content
    body = placed.json()
    assert (
        body["symbol"],
        body["side"],
        body["price"],
        body["quantity"],
        body["status"],
        body["clientId"],
    ) == (
        "SOL_USDC",
        "Bid",
        "100",
        "0.5",
        "New",
        7,
    )
    order = Order.objects.get(pk=body["id"])
    assert (order.locked_amount, order.market.symbol) == (Decimal("50"), "SOL_USDC")

    before = _stored()
    stolen = Signer(mallory).send(
        client, "DELETE", "orderCancel", {"orderId": body["id"], "symbol": "SOL_USDC"}
    )
    assert (stolen.status_code, stolen.json()["code"]) == (404, "RESOURCE_NOT_FOUND")
    assert _stored() == before

    cancelled = alice_signer.send(client, "DELETE", "orderCancel", {"clientId": "7", "symbol": "SOL_USDC"})
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["id"] == body["id"]
    assert MarketCommand.objects.filter(order_id=order.pk, kind=CommandKind.CANCEL).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_revoked_key_is_refused_on_the_next_request_and_nothing_is_stored(client, alice_signer, alice):
    assert alice_signer.send(client, "POST", "orderExecute", BID).status_code == 200
    before = _stored()

    api_key_revoke(user=alice, api_key_id=alice_signer.api_key.pk)
    refused = alice_signer.send(client, "POST", "orderExecute", BID)

    assert (refused.status_code, refused.json()) == (
        401,
        {"code": "UNAUTHORIZED", "message": "Invalid API key"},
    )
    assert _stored() == before


@pytest.mark.django_db(transaction=True)
def test_a_deactivated_user_is_refused_on_the_next_request(client, alice_signer, alice):
    assert alice_signer.send(client, "POST", "orderExecute", BID).status_code == 200
    before = _stored()

    alice.is_active = False
    alice.save(update_fields=["is_active"])
    refused = alice_signer.send(client, "POST", "orderExecute", BID)

    assert (refused.status_code, refused.json()["code"]) == (401, "ACCOUNT_DEACTIVATED")
    assert _stored() == before


@pytest.mark.django_db(transaction=True)
def test_a_halted_market_and_an_unknown_symbol_refuse_the_order_at_once(client, alice_signer):
    assert alice_signer.send(client, "POST", "orderExecute", BID).status_code == 200
    before = _stored()

    Market.objects.filter(symbol="SOL_USDC").update(order_book_state=OrderBookState.CLOSED)
    halted = alice_signer.send(client, "POST", "orderExecute", BID)
    unknown = alice_signer.send(client, "POST", "orderExecute", {**BID, "symbol": "NOPE_USDC"})

    assert (halted.status_code, halted.json()["code"]) == (400, "TRADING_PAUSED")
    assert (unknown.status_code, unknown.json()["code"]) == (400, "INVALID_SYMBOL")
    assert _stored() == before
