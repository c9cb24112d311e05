"""The WebSocket consumer and the outbox publisher in-process, on an in-memory channel layer. The
real-socket, real-client side is tests/api/test_ccxtpro_streams.py."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.db import connection

from accounts.signing import sign, subscribe_signing_string
from exchange import consumers, streams
from exchange.models import Market, OutboxEvent

ETH = Market(pk=7, symbol="ETH_USDC", tick_size=Decimal("0.01"), step_size=Decimal("0.0001"))
INVALID_STREAM = {"id": None, "error": {"code": 4006, "message": "Invalid stream"}}


def depth(update_id: int, bids: list[list[str]] | None = None) -> dict[str, Any]:
    return {"e": "depth", "s": "ETH_USDC", "U": update_id, "u": update_id, "a": [], "b": bids or []}


@pytest.fixture
def offline_markets(monkeypatch):
    """The consumer without a database: one market, depth at update id 5, no other initial frames."""
    monkeypatch.setattr(consumers, "_markets_by_symbol", lambda: {"ETH_USDC": ETH})

    def initial(stream: streams.Stream, market: Market) -> list[dict[str, Any]]:
        if stream.kind == "depth":
            return [streams.depth_warmup_payload(market, 5)] * consumers.DEPTH_WARMUP_FRAMES
        return []

    monkeypatch.setattr(consumers, "_initial_frames", initial)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(scenario(), 20)

    async_to_sync(bounded)()


async def db(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Database work from the test's coroutine, in the test's thread and connection."""
    return await sync_to_async(function)(*args, **kwargs)


class WebsocketCommunicator(ApplicationCommunicator):
    """What `channels.testing.WebsocketCommunicator` does, for the calls used here: importing
    `channels.testing` needs daphne (for its live-server test case), which Satchel does not use."""

    def __init__(self) -> None:
        scope = {"type": "websocket", "path": "/", "query_string": b"", "headers": [], "subprotocols": []}
        super().__init__(consumers.StreamConsumer.as_asgi(), scope)

    async def send_to(self, *, text_data: str) -> None:
        await self.send_input({"type": "websocket.receive", "text": text_data})

    async def send_json_to(self, data: object) -> None:
        await self.send_to(text_data=json.dumps(data))

    async def receive_json_from(self, timeout: float = 1) -> Any:
        response = await self.receive_output(timeout)
        assert response["type"] == "websocket.send", response
        return json.loads(response["text"])

    async def disconnect(self) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(1)


async def connected() -> WebsocketCommunicator:
    communicator = WebsocketCommunicator()
    await communicator.send_input({"type": "websocket.connect"})
    assert (await communicator.receive_output(1))["type"] == "websocket.accept"
    return communicator


async def request(communicator: WebsocketCommunicator, method: str, *params: str, **extra: Any) -> None:
    await communicator.send_json_to({"method": method, "params": list(params), **extra})


async def drain(communicator: WebsocketCommunicator) -> list[dict[str, Any]]:
    """Every frame before the PONG to a PING sent once the layer's messages are in.

    The consumer handles each source in order, but a PING and a channel-layer message that are
    both waiting may go either way, hence the pause.
    """
    await asyncio.sleep(0.05)
    await communicator.send_json_to({"method": "PING", "id": 1})
    frames = []
    while (frame := await communicator.receive_json_from()) != {"id": 1, "result": "PONG"}:
        frames.append(frame)
    return frames


def signed(secret_and_key: tuple[str, str], *, age_ms: int = 0) -> list[str]:
    secret, key = secret_and_key
    timestamp = str(time.time_ns() // 1_000_000 - age_ms)
    return [key, sign(secret, subscribe_signing_string(timestamp, "5000")), timestamp, "5000"]


# --- public streams -----------------------------------------------------------------------------------


def test_public_streams_warm_up_deduplicate_and_unsubscribe(layer, offline_markets):
    async def scenario() -> None:
        socket = await connected()
        await request(socket, "SUBSCRIBE", "depth.ETH_USDC", "trade.ETH_USDC")
        await request(socket, "SUBSCRIBE", "depth.ETH_USDC")  # idempotent: no second warm-up
        warmup = await drain(socket)
        assert [frame["stream"] for frame in warmup] == ["depth.ETH_USDC"] * 11
        assert {(f["data"]["U"], f["data"]["u"], len(f["data"]["b"])) for f in warmup} == {(5, 5, 0)}

        trade = {"e": "trade", "s": "ETH_USDC", "t": 3, "p": "1", "q": "1"}
        # A publisher retry repeats what was sent: depth 5 (in the warm-up), 6 and trade 3 go once.
        for _ in range(2):
            await streams.stream_events_send(
                layer,
                streams.public_group("depth.ETH_USDC"),
                [("depth.ETH_USDC", depth(5)), ("depth.ETH_USDC", depth(6, [["9", "1"]]))],
            )
            await streams.stream_events_send(
                layer, streams.public_group("trade.ETH_USDC"), [("trade.ETH_USDC", trade)]
            )
        frames = await drain(socket)
        assert sorted((f["stream"], f["data"].get("u", f["data"].get("t"))) for f in frames) == [
            ("depth.ETH_USDC", 6),
            ("trade.ETH_USDC", 3),
        ]

        # Unsubscribing from a stream never subscribed (the kline) is no error.
        await request(socket, "UNSUBSCRIBE", "trade.ETH_USDC", "kline.1m.ETH_USDC")
        # Answered once the UNSUBSCRIBE is done: a frame sent before then may still arrive.
        assert await drain(socket) == []
        await streams.stream_events_send(
            layer, streams.public_group("trade.ETH_USDC"), [("trade.ETH_USDC", {**trade, "t": 4})]
        )
        await streams.stream_events_send(
            layer, streams.public_group("depth.ETH_USDC"), [("depth.ETH_USDC", depth(7))]
        )
        assert [f["data"]["u"] for f in await drain(socket)] == [7]
        await socket.disconnect()

    run(scenario)


def test_a_depth_gap_closes_the_socket_so_the_client_resyncs(layer, offline_markets):
    async def scenario() -> None:
        socket = await connected()
        await request(socket, "SUBSCRIBE", "depth.ETH_USDC")
        await drain(socket)  # the warm-up at update id 5
        group = streams.public_group("depth.ETH_USDC")
        await streams.stream_events_send(layer, group, [("depth.ETH_USDC", depth(7))])  # 6 was lost
        assert await socket.receive_output() == {"type": "websocket.close", "code": consumers.CLOSE_DEPTH_GAP}

    run(scenario)


def test_bad_requests_get_one_error_frame_and_valid_streams_still_subscribe(layer, offline_markets):
    async def scenario() -> None:
        socket = await connected()
        await socket.send_to(text_data="{not json")
        await request(
            socket, "SUBSCRIBE", "depth.ETH_USDC", "depth.DOGE_USDC", "kline.7m.ETH_USDC", "nonsense"
        )
        await socket.send_json_to({"method": "SUBSCRIBE", "params": "depth.ETH_USDC"})
        frames = await drain(socket)
        assert frames[0] == {"id": None, "error": {"code": 4000, "message": "Invalid JSON"}}
        assert frames[1:12] == [frames[1]] * 11  # the warm-up of the valid stream
        assert frames[12:] == [
            INVALID_STREAM,
            {"id": None, "error": {"code": 4000, "message": "Invalid request"}},
        ]
        await socket.disconnect()

    run(scenario)


def test_private_streams_without_a_valid_signature_subscribe_nothing(layer, offline_markets):
    # Each of these fails before any query: no database is available to this test.
    secret_and_key = ("A" * 43 + "=", "B" * 43 + "=")

    async def scenario() -> None:
        socket = await connected()
        await request(socket, "SUBSCRIBE", "account.orderUpdate", "account.balanceUpdate")
        await request(socket, "SUBSCRIBE", "account.orderUpdate", signature=["k", "s"])
        await request(socket, "SUBSCRIBE", "account.orderUpdate", signature=signed(secret_and_key))
        await request(
            socket, "SUBSCRIBE", "account.orderUpdate", signature=signed(secret_and_key, age_ms=60_000)
        )
        codes = [frame["error"]["code"] for frame in await drain(socket)]
        assert codes == [consumers.INVALID_SIGNATURE] * 4
        assert not [group for group in layer.groups if ".user." in group]
        await socket.disconnect()

    run(scenario)


# --- with the database: signatures, the outbox publisher ----------------------------------------------


def _key(user) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    from accounts.services.api_keys import api_key_create

    key, secret = api_key_create(user=user, label="ws")
    return secret, key.public_key


@pytest.mark.django_db(transaction=True)
def test_a_signed_connection_gets_only_its_own_accounts_events(layer, demo_markets, alice, mallory):
    alice_key, mallory_key = _key(alice), _key(mallory)
    order = {"e": "orderAccepted", "s": "ETH_USDC", "i": "1"}
    balance = {"e": "balanceUpdate", "a": "USDC", "A": "1", "L": "0", "S": "0"}

    async def scenario() -> None:
        socket = await connected()
        await request(
            socket,
            "SUBSCRIBE",
            "account.orderUpdate.ETH_USDC",
            "account.balanceUpdate",
            "account.rfqUpdate",
            "account.positionUpdate",
            signature=signed(alice_key),
        )
        assert await drain(socket) == []
        await request(socket, "SUBSCRIBE", "account.orderUpdate", signature=signed(mallory_key))
        assert [f["error"]["code"] for f in await drain(socket)] == [consumers.INVALID_SIGNATURE]

        await streams.stream_events_send(
            layer, streams.user_group(mallory.pk), [("account.orderUpdate", order)], user_id=mallory.pk
        )
        # A message naming another user on alice's group (it cannot happen) is dropped all the same.
        await streams.stream_events_send(
            layer, streams.user_group(alice.pk), [("account.orderUpdate", order)], user_id=mallory.pk
        )
        mine = [("account.orderUpdate", order), ("account.orderUpdate", {**order, "s": "BTC_USDC"})]
        await streams.stream_events_send(
            layer, streams.user_group(alice.pk), [*mine, ("account.balanceUpdate", balance)], user_id=alice.pk
        )
        assert await drain(socket) == [
            {"stream": "account.orderUpdate.ETH_USDC", "data": order},
            {"stream": "account.balanceUpdate", "data": balance},
        ]
        await socket.disconnect()

    run(scenario)


def _limit(side: str, price: str, quantity: str):  # type: ignore[no-untyped-def]
    from exchange.services.order_request import OrderRequest

    return OrderRequest(
        side=side,
        order_type="Limit",
        price=Decimal(price),
        quantity=Decimal(quantity),
        quote_quantity=None,
        time_in_force="GTC",
        post_only=False,
        self_trade_prevention="RejectTaker",
        client_id=9,
        trigger_price=None,
    )


@pytest.fixture(params=["in-memory", "redis-pubsub"])
def publisher_layer(request):  # type: ignore[no-untyped-def]
    """Both ways the publisher sends: the layer's own group_send (in-memory), and its own Redis
    pipeline to the channels the deployed pub/sub layer listens on (exchange/services/outbox_send.py)."""
    if request.param == "in-memory":
        return request.getfixturevalue("layer")
    return request.getfixturevalue("redis_layer")


@pytest.mark.django_db(transaction=True)
def test_the_publisher_sends_a_batch_in_order_marks_it_and_runs_alone(
    publisher_layer, demo_markets, alice, mallory, settings
):
    from exchange.selectors import balances_for_user
    from exchange.services.deposits import deposit_credit
    from exchange.services.matching import market_drain
    from exchange.services.orders import order_place
    from exchange.services.outbox import OutboxPublisher, _try_lock

    settings.ORDER_RESULT_WAIT_SECONDS = 0
    market = Market.objects.select_related("base", "quote").get(symbol="ETH_USDC")
    deposit_credit(user_id=alice.pk, asset=market.quote, quantity=Decimal("5000"), source="administrator")
    deposit_credit(user_id=mallory.pk, asset=market.base, quantity=Decimal("3"), source="administrator")
    alice_key = _key(alice)

    async def scenario() -> None:
        socket = await connected()
        await request(socket, "SUBSCRIBE", "depth.ETH_USDC", "trade.ETH_USDC")
        await request(
            socket, "SUBSCRIBE", "account.orderUpdate", "account.balanceUpdate", signature=signed(alice_key)
        )
        assert len(await drain(socket)) == 11  # the warm-up at update id 0

        publisher = OutboxPublisher(layer=publisher_layer)
        try:
            assert await publisher._db(_try_lock) is True  # the lock run() takes first
            bid = await db(order_place, user=alice, market=market, request=_limit("Bid", "2000", "1.5"))
            ask = await db(order_place, user=mallory, market=market, request=_limit("Ask", "1990", "2"))
            assert (await db(market_drain, market.pk)).applied == 2
            assert await db(_try_lock) is False  # a second publisher waits
            assert await publisher.publish_round(wait=False) == await db(OutboxEvent.objects.count)
            assert await db(OutboxEvent.objects.filter(published_at=None).count) == 0
            assert await publisher.publish_round(wait=False) == 0
        finally:
            await publisher.close()
        assert await db(_try_lock) is True  # released with the publisher's session
        await db(_unlock_all)

        frames = await drain(socket)
        trades = [f["data"] for f in frames if f["stream"] == "trade.ETH_USDC"]
        assert [(t["t"], t["p"], t["q"], t["b"], t["a"], t["m"]) for t in trades] == [
            (1, "2000", "1.5", str(bid.pk), str(ask.pk), True)
        ]
        depths = [f["data"] for f in frames if f["stream"] == "depth.ETH_USDC"]
        assert [(d["U"], d["u"], d["b"], d["a"]) for d in depths] == [
            (1, 1, [["2000", "1.5"]], []),
            (2, 2, [["2000", "0"]], [["1990", "0.5"]]),
        ]
        orders = [f["data"] for f in frames if f["stream"] == "account.orderUpdate"]
        assert [(o["e"], o["i"], o["X"], o["z"], o.get("l")) for o in orders] == [
            ("orderAccepted", str(bid.pk), "New", "0", None),
            ("orderFill", str(bid.pk), "Filled", "1.5", "1.5"),
        ]
        fill = orders[1]
        assert {k: fill[k] for k in "sSopqcfVOrtLmnNZ"} == {
            "s": "ETH_USDC",
            "S": "Bid",
            "o": "LIMIT",
            "p": "2000",
            "q": "1.5",
            "c": 9,
            "f": "GTC",
            "V": "RejectTaker",
            "O": "USER",
            "r": False,
            "t": 1,
            "L": "2000",
            "m": True,
            "n": "0.0012",  # maker 0.08% of 1.5 ETH, in ETH
            "N": "ETH",
            "Z": "3000",
        }
        assert str(ask.pk) not in {o["i"] for o in orders}  # mallory's side is hers alone
        balances = {f["data"]["a"]: f["data"] for f in frames if f["stream"] == "account.balanceUpdate"}
        expected = await db(balances_for_user, user_id=alice.pk)
        assert set(balances) == {"ETH", "USDC"}
        for symbol, data in balances.items():
            assert (Decimal(data["A"]), Decimal(data["L"]), Decimal(data["S"])) == (
                expected[symbol]["available"],
                expected[symbol]["locked"],
                expected[symbol]["staked"],
            )
        await socket.disconnect()

    run(scenario)


def _unlock_all() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock_all()")


def test_stream_names_parse_only_what_is_served_and_candles_align_as_rest():
    symbols = {"ETH_USDC", "AAPL.US_USDC"}
    parse = lambda name: streams.stream_parse(name, symbols=symbols)  # noqa: E731
    assert parse("kline.1month.AAPL.US_USDC") == streams.Stream(
        "kline.1month.AAPL.US_USDC", "kline", "AAPL.US_USDC", "1month"
    )
    assert parse("account.orderUpdate.ETH_USDC") == streams.Stream(
        "account.orderUpdate.ETH_USDC", "account.orderUpdate", "ETH_USDC"
    )
    assert parse("bookTicker.AAPL.US_USDC").symbol == "AAPL.US_USDC"  # type: ignore[union-attr]
    for name in ("depth.200ms.ETH_USDC", "account.balanceUpdate.ETH_USDC", "trade.", "ticker", 7, "x" * 200):
        assert parse(name) is None
    moment = datetime(2026, 11, 25, 9, 59, 59, 900000, tzinfo=UTC)  # a Wednesday
    assert streams.kline_bucket("1m", moment) == (
        moment.replace(second=0, microsecond=0),
        moment.replace(hour=10, minute=0, second=0, microsecond=0),
    )
    assert streams.kline_bucket("1w", moment)[0] == datetime(2026, 11, 23, tzinfo=UTC)  # Monday
    assert streams.kline_bucket("1month", moment) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
    )
    assert streams.user_group(12).endswith(".user.12")
    assert streams.public_group("depth.ETH_USDC").endswith(".depth.ETH_USDC")
