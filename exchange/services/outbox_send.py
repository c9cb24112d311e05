"""How the outbox publisher's thread hands channel-layer messages to the web processes.

The publisher runs its rounds in one plain thread (exchange/services/outbox.py). With channels_redis'
pub/sub layer (the deployed one), `RedisPubSubSender` publishes a round's messages itself, on one
blocking Redis connection per Redis host, all of them in one write and one read: the same
`PUBLISH` of the same bytes to the same channel that `layer.group_send` makes (the layer's own
channel name for the group and its own serializer), so the web processes' layer receives them as
if the layer had sent them. Through the layer, each message was its own asyncio round trip
(connection-pool lock, health check, a task per group): about a quarter of the publisher's CPU at
300 orders/s in a py-spy profile.

Any other layer (the in-memory one in tests, a sentinel pub/sub configuration this does not know)
gets `LayerSender`: the layer's own `group_send`, run on the publisher's event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from typing import Any, Protocol, TypeVar

import redis
from redis.connection import AbstractConnection

from exchange import streams

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Group names remembered with their channel and shard (one per user who traded): past this many,
# the memory starts over.
_ROUTES_KEPT = 10_000

# (group, channel-layer message)
Message = tuple[str, dict[str, Any]]


class Sender(Protocol):
    """Called from the publisher's thread only, one call at a time."""

    def send(self, messages: Sequence[Message]) -> None:
        """Every message to its group, each group's in the given order."""

    def watched(self, groups: Sequence[str]) -> list[bool]:
        """Per group, whether anybody may listen ("maybe" counts as yes)."""

    def close(self) -> None: ...


def sender_for(layer: Any) -> Sender:
    """The sender for `layer`; call it on the event loop the publisher's thread is driven from."""
    loop = asyncio.get_running_loop()
    return RedisPubSubSender.for_layer(layer) or LayerSender(layer, loop)


class LayerSender:
    """The layer's own `group_send`, on `loop` (the publisher's thread waits for it)."""

    def __init__(self, layer: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.layer = layer
        self.loop = loop

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def send(self, messages: Sequence[Message]) -> None:
        if messages:
            self._run(self._send(messages))

    async def _send(self, messages: Sequence[Message]) -> None:
        for group, message in messages:
            await self.layer.group_send(group, message)

    def watched(self, groups: Sequence[str]) -> list[bool]:
        return self._run(self._watched(groups)) if groups else []

    async def _watched(self, groups: Sequence[str]) -> list[bool]:
        return [await streams.group_has_members(self.layer, group) for group in groups]

    def close(self) -> None:
        pass


class RedisPubSubSender:
    """PUBLISH on blocking connections, one per Redis host of a channels_redis pub/sub layer."""

    def __init__(self, layer: Any, loop_layer: Any) -> None:
        self.serialize = layer.serialize
        self.loop_layer = loop_layer
        self.pools = {
            shard: redis.ConnectionPool.from_url(shard.host["address"], **_options(shard.host))
            for shard in loop_layer._shards
        }
        self.connections: dict[Any, AbstractConnection] = {}
        # Per group: its channel and the shard that carries it (fixed by the layer's config).
        self.routes: dict[str, tuple[bytes, Any]] = {}

    @classmethod
    def for_layer(cls, layer: Any) -> RedisPubSubSender | None:
        """None unless `layer` is channels_redis' pub/sub layer, configured by address."""
        from channels_redis.pubsub import RedisPubSubChannelLayer

        if not isinstance(layer, RedisPubSubChannelLayer):
            return None
        try:
            loop_layer = layer._get_layer()
            if all("address" in shard.host for shard in loop_layer._shards):
                sender = cls(layer, loop_layer)
                sender._route("probe")  # the layer's naming and sharding, as this version has them
                sender.routes.clear()
                return sender
        except AttributeError:  # another channels_redis version: its own group_send
            logger.warning("outbox: unknown channels_redis layout; publishing through the layer")
        return None

    def _route(self, group: str) -> tuple[bytes, Any]:
        route = self.routes.get(group)
        if route is None:
            if len(self.routes) >= _ROUTES_KEPT:
                self.routes.clear()
            channel = self.loop_layer._get_group_channel_name(group)
            route = self.routes[group] = (channel.encode(), self.loop_layer._get_shard(channel))
        return route

    def _connection(self, shard: Any) -> AbstractConnection:
        connection = self.connections.get(shard)
        if connection is None:
            connection = self.connections[shard] = self.pools[shard].make_connection()
        return connection

    def _call(self, shard: Any, commands: list[tuple[bytes, ...]]) -> list[Any]:
        """The commands in one write, then their replies. Any failure drops the connection (its
        replies can no longer be matched to commands); the next call connects afresh."""
        connection = self._connection(shard)
        try:
            connection.send_packed_command([_packed(commands)], check_health=False)
            return [connection.read_response() for _ in commands]
        except BaseException:
            connection.disconnect()
            raise

    def send(self, messages: Sequence[Message]) -> None:
        by_shard: dict[Any, list[tuple[bytes, ...]]] = {}
        for group, message in messages:
            channel, shard = self._route(group)
            by_shard.setdefault(shard, []).append((b"PUBLISH", channel, self.serialize(message)))
        for shard, commands in by_shard.items():
            self._call(shard, commands)

    def watched(self, groups: Sequence[str]) -> list[bool]:
        by_shard: dict[Any, list[bytes]] = {}
        for group in groups:
            channel, shard = self._route(group)
            by_shard.setdefault(shard, []).append(channel)
        counts: dict[bytes, int] = {}
        for shard, channels in by_shard.items():
            (reply,) = self._call(shard, [(b"PUBSUB", b"NUMSUB", *channels)])
            counts.update(zip(reply[::2], reply[1::2], strict=True))
        return [counts.get(self._route(group)[0], 1) > 0 for group in groups]

    def close(self) -> None:
        for connection in self.connections.values():
            connection.disconnect()
        self.connections.clear()
        for pool in self.pools.values():
            pool.disconnect()


def _packed(commands: list[tuple[bytes, ...]]) -> bytes:
    """Commands in Redis' protocol (RESP arrays of bulk strings), byte for byte as redis-py packs
    them, without its per-argument encoding (every argument here is bytes already)."""
    parts = []
    for command in commands:
        parts.append(b"*%d\r\n" % len(command))
        for argument in command:
            parts.append(b"$%d\r\n%s\r\n" % (len(argument), argument))
    return b"".join(parts)


def _options(host: dict[str, Any]) -> dict[str, Any]:
    """A host's connection options besides its address, as channels_redis passes them to redis-py."""
    return {key: value for key, value in host.items() if key != "address"}


__all__ = ["LayerSender", "Message", "RedisPubSubSender", "Sender", "sender_for"]
