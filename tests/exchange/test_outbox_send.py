"""The outbox publisher's senders (exchange/services/outbox_send.py): what the pipelined Redis sender
publishes, channels_redis' own pub/sub layer receives as if `group_send` had sent it."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync

from exchange import streams
from exchange.services.outbox_send import LayerSender, RedisPubSubSender, sender_for

DEPTH = {"e": "depth", "E": 1, "T": 1, "U": 4, "a": [["2000.5", "1"]], "b": [], "s": "ETH_USDC", "u": 4}
ORDER = {"e": "orderAccepted", "i": "11", "s": "ETH_USDC", "X": "New", "z": "0", "Z": "0"}


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(scenario(), 20)

    async_to_sync(bounded)()


async def in_thread(function: Callable[..., Any], *args: Any) -> Any:
    """As the publisher calls its sender: from a thread of its own, the event loop left free."""
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)


def group() -> str:
    return f"test-outbox-send.{uuid.uuid4().hex[:12]}"


async def member(layer: Any, name: str) -> str:
    channel = await layer.new_channel()
    await layer.group_add(name, channel)
    return str(channel)


def test_redis_sender_messages_arrive_as_the_layer_sent_them_in_order_per_group(redis_layer):
    async def scenario() -> None:
        sender = sender_for(redis_layer)
        assert isinstance(sender, RedisPubSubSender)
        public, private = group(), group()
        public_channel, private_channel = (
            await member(redis_layer, public),
            await member(redis_layer, private),
        )
        first = streams.stream_messages([("depth.ETH_USDC", DEPTH)])
        second = streams.stream_messages([("depth.ETH_USDC", {**DEPTH, "U": 5, "u": 5})])
        mine = streams.stream_messages([("account.orderUpdate", ORDER)], user_id=3)
        try:
            # The layer's own send first: the sender's copies must arrive identical.
            await redis_layer.group_send(public, first[0])
            assert await redis_layer.receive(public_channel) == first[0]
            await in_thread(sender.send, [(public, first[0]), (private, mine[0]), (public, second[0])])
            assert await redis_layer.receive(public_channel) == first[0]
            assert await redis_layer.receive(public_channel) == second[0]
            assert await redis_layer.receive(private_channel) == mine[0]
            assert mine[0] == {"type": "stream.events", "events": [["account.orderUpdate", ORDER]], "user": 3}
        finally:
            await in_thread(sender.close)
            await redis_layer.flush()

    run(scenario)


def test_redis_sender_tells_watched_groups_in_one_call_and_recovers_from_a_dropped_connection(
    redis_layer,
):
    async def scenario() -> None:
        sender = sender_for(redis_layer)
        assert isinstance(sender, RedisPubSubSender)
        watched, unwatched = group(), group()
        channel = await member(redis_layer, watched)
        try:
            assert await in_thread(sender.watched, [unwatched, watched, unwatched]) == [False, True, False]
            # The server side of the sender's connection goes away: that call fails, the next
            # one connects afresh (the publisher's round fails and is sent again).
            (connection,) = sender.connections.values()
            connection._sock.shutdown(socket.SHUT_RDWR)  # type: ignore[attr-defined]
            message = streams.stream_messages([("depth.ETH_USDC", DEPTH)])[0]
            with pytest.raises(redis.exceptions.ConnectionError):
                await in_thread(sender.send, [(watched, message)])
            await in_thread(sender.send, [(watched, message)])
            assert await redis_layer.receive(channel) == message
        finally:
            await in_thread(sender.close)
            await redis_layer.flush()

    run(scenario)


def test_any_other_layer_gets_its_own_group_send_run_on_the_event_loop(layer):
    async def scenario() -> None:
        sender = sender_for(layer)
        assert isinstance(sender, LayerSender)
        watched, unwatched = group(), group()
        channel = await member(layer, watched)
        messages = [
            streams.stream_messages([("depth.ETH_USDC", {**DEPTH, "U": n, "u": n})])[0] for n in (1, 2)
        ]
        await in_thread(
            sender.send, [(watched, messages[0]), (unwatched, messages[0]), (watched, messages[1])]
        )
        assert await layer.receive(channel) == messages[0]
        assert await layer.receive(channel) == messages[1]
        assert await in_thread(sender.watched, [watched, unwatched]) == [True, False]

    run(scenario)


def test_commands_are_packed_byte_for_byte_as_redis_py_packs_them():
    from redis.connection import Connection

    from exchange.services.outbox_send import _packed

    commands = [(b"PUBLISH", b"asgi__group__x", bytes(range(256)) * 40), (b"PUBSUB", b"NUMSUB", b"a", b"")]
    assert _packed(commands) == b"".join(Connection().pack_commands(commands))
