"""The stream events the publisher reads out of the matching worker's outbox rows, compared with a
recorded transcript: whatever the rows store, the events (and so the frames clients get) stay
exactly these.

A seeded stream of every kind of command a client can send (limits resting, crossing and expiring,
post-only rejections, market orders by quantity and by quote, triggers, self-trades, cancels and
cancel-alls) goes through `order_place`/`order_cancel`/`order_cancel_all` and the matching worker in
small batches. Ids and times are normalised (order and user ids by first appearance, event times
by placeholder). `SATCHEL_RECORD_TRANSCRIPT=1` rewrites the transcript: only ever from a version
whose frames are the reference.
"""

from __future__ import annotations

import json
import os
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.errors import DomainError
from exchange.models import Market
from exchange.services import matching
from exchange.services.deposits import deposit_credit
from exchange.services.matching import market_drain
from exchange.services.order_request import OrderRequest
from exchange.services.orders import order_cancel, order_cancel_all, order_place
from exchange.services.outbox import outbox_mark_published, outbox_pending
from tests.factories.orders import bid

TRANSCRIPT = Path(__file__).parent / "data" / "outbox_frames.json"


def _request(rng: random.Random, mid: int) -> OrderRequest:
    side = rng.choice(("Bid", "Ask"))
    roll = rng.random()
    quantity = Decimal(rng.randint(1, 30)) / 10
    price = Decimal(mid + rng.randint(-8, 8)) + Decimal(rng.choice((0, 0, 25, 5))) / 100
    stp = rng.choice(("RejectTaker", "RejectTaker", "RejectMaker", "RejectBoth"))
    client_id = rng.choice((None, rng.randint(1, 1000)))
    if roll < 0.12:  # market, by quantity or (buying) by quote
        by_quote = side == "Bid" and rng.random() < 0.5
        return OrderRequest(
            side=side,
            order_type="Market",
            price=None,
            quantity=None if by_quote else quantity,
            quote_quantity=Decimal(rng.randint(100, 5000)) if by_quote else None,
            time_in_force="IOC",
            post_only=False,
            self_trade_prevention=stp,
            client_id=client_id,
            trigger_price=None,
        )
    if roll < 0.2:  # a trigger order around the last prices
        return OrderRequest(
            side=side,
            order_type=rng.choice(("Market", "Limit")),
            price=price if rng.random() < 0.5 else None,
            quantity=quantity,
            quote_quantity=None,
            time_in_force="GTC",
            post_only=False,
            self_trade_prevention=stp,
            client_id=client_id,
            trigger_price=Decimal(mid + rng.randint(-4, 4)),
        )
    return OrderRequest(
        side=side,
        order_type="Limit",
        price=price,
        quantity=quantity,
        quote_quantity=None,
        time_in_force=rng.choice(("GTC", "GTC", "GTC", "IOC", "FOK")),
        post_only=rng.random() < 0.15,
        self_trade_prevention=stp,
        client_id=client_id,
        trigger_price=None,
    )


def _normalised(events: list[tuple[str, int | None, dict[str, Any]]]) -> list[Any]:
    """Order ids, user ids and event times as placeholders numbered by first appearance."""
    names: dict[tuple[str, object], str] = {}

    def name(kind: str, value: object) -> str:
        return names.setdefault((kind, value), f"{kind}{sum(1 for k, _ in names if k == kind) + 1}")

    out = []
    for stream, user_id, data in events:
        data = dict(data)
        for key in ("E", "T"):
            if key in data and isinstance(data[key], int):
                data[key] = "<time>"
        if data.get("e") == "trade":
            data["b"], data["a"] = name("order", data["b"]), name("order", data["a"])
        elif "i" in data:
            data["i"] = name("order", data["i"])
        out.append([stream, None if user_id is None else name("user", user_id), data])
    return out


@pytest.mark.django_db(transaction=True)
def test_the_matching_workers_stream_events_stay_the_recorded_ones(
    demo_markets, alice, bob, mallory, settings
):
    settings.ORDER_RESULT_WAIT_SECONDS = 0
    settings.MATCHING_BATCH_SIZE = 7  # several batches per drain: the pipelined path too
    market = Market.objects.select_related("base", "quote").get(symbol="ETH_USDC")
    users = [alice, bob, mallory]
    for user in users:
        deposit_credit(
            user_id=user.pk, asset=market.quote, quantity=Decimal("200000"), source="administrator"
        )
        deposit_credit(user_id=user.pk, asset=market.base, quantity=Decimal("100"), source="administrator")
    matching._books.clear()
    rng = random.Random(11)
    mid = 2000
    placed: list[tuple[Any, int]] = []
    events: list[tuple[str, int | None, dict[str, Any]]] = []
    for step in range(240):
        mid += rng.choice((-1, 0, 1))
        user = rng.choice(users)
        roll = rng.random()
        try:
            if roll < 0.15 and placed:
                owner, order_id = placed[rng.randrange(len(placed))]
                order_cancel(user=owner, market=market, order_id=order_id, client_id=None)
            elif roll < 0.18:
                order_cancel_all(user=user, market=market, scope=rng.choice(("all", "limit", "trigger")))
            else:
                order = order_place(user=user, market=market, request=_request(rng, mid))
                placed.append((user, order.pk))
        except DomainError:
            pass  # refused by the API side (funds, not found): no command, no event
        if step % 40 == 39:
            market_drain(market.pk)
            pending, _ = outbox_pending(limit=1_000_000)
            events += [(e.stream, e.user_id, e.payload) for e in pending]
            outbox_mark_published(ids=sorted({e.id for e in pending}))
    transcript = _normalised(events)
    kinds = {data["e"] for _, _, data in transcript}
    assert {"depth", "trade", "orderAccepted", "orderFill", "orderCancelled", "orderExpired"} <= kinds
    assert {"triggerPlaced", "balanceUpdate"} <= kinds
    if os.environ.get("SATCHEL_RECORD_TRANSCRIPT"):
        TRANSCRIPT.parent.mkdir(exist_ok=True)
        TRANSCRIPT.write_text(json.dumps(transcript, indent=0, sort_keys=False) + "\n")
    recorded = json.loads(TRANSCRIPT.read_text())
    assert len(transcript) == len(recorded)
    for index, (got, want) in enumerate(zip(transcript, recorded, strict=True)):
        assert got == want, f"event {index}"
    # Key order too: a frame is this dict's JSON.
    assert [list(data) for _, _, data in transcript] == [list(data) for _, _, data in recorded]


def test_events_of_an_order_gone_since_are_skipped_and_the_rest_rendered():
    from exchange.engine.spec import MarketSpec
    from exchange.services.outbox_batch import BatchEvents, batch_events_render

    events = BatchEvents("ETH_USDC", MarketSpec(tick_size=Decimal("0.01"), step_size=Decimal("0.001")), 7)
    events.orders = [[1, "orderAccepted", "New", 0, 0, ""], [2, "orderCancelled", "Cancelled", 1500, 0, ""]]
    events.balances = [[5, "USDC", "10", "0", "0"]]
    static = {"S": "Bid", "o": "LIMIT", "f": "GTC", "V": "RejectTaker", "O": "USER", "r": False, "p": "20"}
    rendered = batch_events_render(json.loads(json.dumps(events.payload())), {2: (5, static)})
    assert rendered == [
        (
            "account.orderUpdate",
            5,
            {
                "E": 7,
                "O": "USER",
                "S": "Bid",
                "T": 7,
                "V": "RejectTaker",
                "X": "Cancelled",
                "Z": "0",
                "e": "orderCancelled",
                "f": "GTC",
                "i": "2",
                "o": "LIMIT",
                "p": "20",
                "r": False,
                "s": "ETH_USDC",
                "z": "1.5",
            },
        ),
        (
            "account.balanceUpdate",
            5,
            {"A": "10", "E": 7, "L": "0", "S": "0", "a": "USDC", "e": "balanceUpdate"},
        ),
    ]
    assert list(rendered[0][2]) == sorted(rendered[0][2])


@pytest.mark.django_db(transaction=True)
def test_a_round_takes_whole_batch_rows_and_stops_at_the_one_that_reaches_its_limit(
    demo_markets, alice, settings
):
    settings.ORDER_RESULT_WAIT_SECONDS = 0
    settings.MATCHING_BATCH_SIZE = 2
    market = Market.objects.select_related("base", "quote").get(symbol="ETH_USDC")
    deposit_credit(user_id=alice.pk, asset=market.quote, quantity=Decimal("100000"), source="administrator")
    matching._books.clear()
    for price in ("1990", "1991", "1992", "1993", "1994"):  # batches of 2 + 2 + 1 resting bids
        order_place(user=alice, market=market, request=bid(price))
    market_drain(market.pk)

    seen: list[int] = []
    while True:
        pending, ids = outbox_pending(limit=2)  # a page of two rows; the first already holds more
        if not ids:
            break
        assert len(ids) == 1
        assert {event.id for event in pending} == set(ids)
        assert len(pending) > 2
        seen += ids
        outbox_mark_published(ids=ids)
    assert seen == sorted(seen)
    assert len(seen) == 3
    everything, _ = outbox_pending(limit=1_000_000)
    assert everything == []
