"""The process-local hub of public streams (exchange/stream_hub.py): one group membership per
process whatever the number of sockets, cleaned up when the last one goes, and a per-socket writer
that keeps order and never lets a slow client hold up the others."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.layers import get_channel_layer

from exchange import consumers, stream_hub, streams
from exchange.models import Market
from tests.exchange.test_consumers import ETH, connected, depth, drain, request, run

DEPTH = "depth.ETH_USDC"


@pytest.fixture
def layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    return get_channel_layer()


@pytest.fixture
def offline_markets(monkeypatch):
    """No database: one market, its depth at update id 5."""
    monkeypatch.setattr(consumers, "_markets_by_symbol", lambda: {"ETH_USDC": ETH})

    def initial(stream: streams.Stream, market: Market) -> list[dict[str, Any]]:
        return [streams.depth_warmup_payload(market, 5)] * consumers.DEPTH_WARMUP_FRAMES

    monkeypatch.setattr(consumers, "_initial_frames", initial)


def test_sockets_of_a_process_share_one_group_membership_until_the_last_leaves(layer, offline_markets):
    group = streams.public_group(DEPTH)

    async def scenario() -> None:
        first, second = await connected(), await connected()
        for socket in (first, second):
            await request(socket, "SUBSCRIBE", DEPTH)
            assert len(await drain(socket)) == consumers.DEPTH_WARMUP_FRAMES
        assert len(layer.groups[group]) == 1  # the hub's channel, not one per socket

        await streams.stream_events_send(layer, group, [(DEPTH, depth(6, [["9", "1"]]))])
        for socket in (first, second):
            assert [(f["data"]["u"], f["data"]["b"]) for f in await drain(socket)] == [(6, [["9", "1"]])]

        await request(first, "UNSUBSCRIBE", DEPTH)
        assert await drain(first) == []
        await streams.stream_events_send(layer, group, [(DEPTH, depth(7))])
        assert await drain(first) == []
        assert [f["data"]["u"] for f in await drain(second)] == [7]
        assert len(layer.groups[group]) == 1

        await second.disconnect()
        assert group not in layer.groups  # the last subscriber gone: the hub left the group
        await first.disconnect()

    run(scenario)


def test_frames_sent_while_a_stream_warms_up_follow_its_initial_frames(layer, offline_markets, monkeypatch):
    group = streams.public_group(DEPTH)
    initial = consumers._initial_frames
    loop: asyncio.AbstractEventLoop | None = None

    def slow_initial(stream: streams.Stream, market: Market) -> list[dict[str, Any]]:
        # Update 6 is published, and reaches the hub, while this socket's initial frames (at
        # update 5) are read: it must come after them.
        assert loop is not None
        send = streams.stream_events_send(layer, group, [(DEPTH, depth(6))])
        asyncio.run_coroutine_threadsafe(send, loop).result()
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0.05), loop).result()
        return initial(stream, market)

    async def scenario() -> None:
        nonlocal loop
        loop = asyncio.get_running_loop()
        watcher = await connected()
        await request(watcher, "SUBSCRIBE", DEPTH)  # the hub is in the group before the next join
        await drain(watcher)
        monkeypatch.setattr(consumers, "_initial_frames", slow_initial)
        socket = await connected()
        await request(socket, "SUBSCRIBE", DEPTH)
        frames = await drain(socket)
        assert [f["data"]["u"] for f in frames] == [5] * consumers.DEPTH_WARMUP_FRAMES + [6]
        await socket.disconnect()
        await watcher.disconnect()

    run(scenario)


class SlowClient:
    """An ASGI send whose transport is full until `drained` is set: each send then waits, as
    uvicorn's does when a client stops reading."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.drained = asyncio.Event()

    async def send(self, message: dict[str, Any]) -> None:
        await self.drained.wait()
        self.sent.append(message)


def test_a_slow_client_queues_its_own_frames_in_order_and_holds_up_no_one():
    async def scenario() -> None:
        slow, fast = SlowClient(), SlowClient()
        fast.drained.set()
        slow_writer, fast_writer = stream_hub.FrameWriter(slow.send), stream_hub.FrameWriter(fast.send)
        for text in ("a", "b", "c"):
            slow_writer.write(text)
            fast_writer.write(text)
        # The fast socket's frames went out at once, in the caller's task.
        assert [message["text"] for message in fast.sent] == ["a", "b", "c"]
        assert slow.sent == []
        slow.drained.set()
        await asyncio.sleep(0.01)
        assert [message["text"] for message in slow.sent] == ["a", "b", "c"]
        slow_writer.write("d")
        assert slow.sent[-1]["text"] == "d"

    run(scenario)


def test_a_client_too_far_behind_is_closed_and_its_backlog_dropped():
    async def scenario() -> None:
        slow = SlowClient()
        writer = stream_hub.FrameWriter(slow.send)
        for number in range(stream_hub.WRITER_BACKLOG + 2):
            writer.write(str(number))
        writer.write("after the close")
        slow.drained.set()
        await asyncio.sleep(0.01)
        assert slow.sent == [
            {"type": "websocket.send", "text": "0"},
            {"type": "websocket.close", "code": stream_hub.CLOSE_TOO_SLOW},
        ]
        assert writer.is_closed

    run(scenario)
