"""Signed order placement and cancel served on the event loop (exchange/api/fast_orders.py) answer
exactly as Django and DRF do: the same status, headers and body for each request, good or bad,
sent through the node's ASGI application both ways (`API_FAST_ORDERS` on and off)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core import signals

from exchange.api.fast_orders import FastCall
from exchange.models import Order, OrderStatus
from tests.api.conftest import BID, Client, _call


@pytest.fixture
def served_by() -> Any:
    """The senders of request_started: FastCall when the fast path served a request."""
    senders: list[Any] = []

    def record(sender: Any, **kwargs: Any) -> None:
        senders.append(sender)

    signals.request_started.connect(record)
    yield senders
    signals.request_started.disconnect(record)


def _comparable(answer: tuple[int, dict[str, str], Any]) -> tuple[int, dict[str, str], Any]:
    """Ids, times and the length they change are the only differences allowed between two orders."""
    status, headers, body = answer
    headers = {name: value for name, value in headers.items() if name != "content-length"}
    if isinstance(body, dict):
        body = {name: value for name, value in body.items() if name not in {"id", "createdAt"}}
    return status, headers, body


CASES: list[tuple[str, str, Any, dict[str, Any]]] = [
    ("place", "POST", BID, {}),
    ("place with a client id", "POST", {**BID, "clientId": 7}, {}),
    ("unknown market", "POST", {**BID, "symbol": "NOPE_USDC"}, {}),
    ("no symbol", "POST", {k: v for k, v in BID.items() if k != "symbol"}, {}),
    ("price off the tick", "POST", {**BID, "price": "100.0000001"}, {}),
    ("beyond the balance", "POST", {**BID, "quantity": "50"}, {}),
    ("client id not a number", "POST", {**BID, "clientId": "x"}, {}),
    ("bad signature", "POST", BID, {"X-Signature": "A" * 88}),
    ("expired", "POST", BID, {"timestamp": "1000"}),
    ("unknown key", "POST", BID, {"X-API-Key": "B" * 43 + "="}),
    ("malformed window", "POST", BID, {"X-Window": "soon"}),
    ("not JSON", "POST", BID, {"raw": b"{not json"}),
    ("an array body", "POST", [BID], {}),
    ("a JSON number body", "POST", 7, {}),
    ("cancel an unknown order", "DELETE", {"orderId": "999999", "symbol": "SOL_USDC"}, {}),
    ("cancel with both ids", "DELETE", {"orderId": "1", "clientId": 7, "symbol": "SOL_USDC"}, {}),
    ("cancel with neither id", "DELETE", {"symbol": "SOL_USDC"}, {}),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("name", "method", "body", "changes"), CASES, ids=[case[0] for case in CASES])
def test_the_fast_path_answers_as_django_does(trader, served_by, settings, name, method, body, changes):
    answers = []
    for fast in (True, False):
        settings.API_FAST_ORDERS = fast
        served_by.clear()
        answers.append(trader.send(method, body, **changes))
        assert (served_by[0] is FastCall) == fast

    assert _comparable(answers[0]) == _comparable(answers[1])
    assert 200 <= answers[0][0] < 500


@pytest.mark.django_db(transaction=True)
def test_a_cancel_on_the_fast_path_answers_as_django_does(trader, settings):
    answers = []
    for fast in (True, False):
        settings.API_FAST_ORDERS = False
        _, _, placed = trader.send("POST", BID)
        settings.API_FAST_ORDERS = fast
        answers.append(trader.send("DELETE", {"orderId": placed["id"], "symbol": "SOL_USDC"}))
        assert answers[-1][2]["id"] == placed["id"]

    assert _comparable(answers[0]) == _comparable(answers[1])
    assert answers[0][0] == 200
    assert answers[0][2]["status"] == OrderStatus.NEW  # as found: no worker here


@pytest.mark.django_db(transaction=True)
def test_calls_the_fast_path_does_not_take_go_to_django(trader, served_by, settings):
    settings.API_FAST_ORDERS = True
    cases = [
        {"Accept": "application/json; indent=4"},  # DRF would render indented JSON
        {"Content-Type": "text/plain"},
        {"Accept": "text/html"},  # DRF answers 406
    ]
    for changes in cases:
        served_by.clear()
        _raw(trader, changes)
        assert served_by, changes
        assert served_by[0] is not FastCall, changes
    assert Order.objects.count() == 1  # the indented call placed its order through Django


def _raw(trader: Client, changes: dict[str, str]) -> None:
    headers = trader.headers("orderExecute", BID, **changes)
    trader.run(_call("POST", json.dumps(BID).encode(), headers))
