"""The outbox publisher's loop (exchange/services/outbox.py): woken by NOTIFY, stopped when told,
and at least once: what it could not send stays unpublished. The frames themselves are
tests/exchange/test_outbox_frames.py; a round end to end through a socket, test_consumers.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import connection, transaction

from exchange import streams
from exchange.models import OutboxEvent
from exchange.services.outbox import OutboxPublisher, _try_lock, outbox_notify
from exchange.services.outbox_send import Message

# Old-style rows, one event (an object) or a list of them: an orderUpdate's "o" is its type, not
# a batch's order events.
ORDER = {"e": "orderAccepted", "i": "11", "o": "LIMIT", "s": "ETH_USDC", "X": "New"}
BALANCE = {"e": "balanceUpdate", "a": "USDC", "A": "10", "L": "0", "S": "0"}


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(scenario(), 30)

    async_to_sync(bounded)()


async def db(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await sync_to_async(function)(*args, **kwargs)


def write(user_id: int) -> None:
    with transaction.atomic():
        OutboxEvent.objects.create(stream="account.orderUpdate", user_id=user_id, payload=ORDER)
        OutboxEvent.objects.create(
            stream="account.balanceUpdate", user_id=user_id, payload=[BALANCE, BALANCE]
        )
        outbox_notify()


def unpublished() -> int:
    return OutboxEvent.objects.filter(published_at=None).count()


def unlock_all() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock_all()")


@pytest.mark.django_db(transaction=True)
def test_run_publishes_on_notify_in_order_and_stops_when_told(layer, alice):
    async def scenario() -> None:
        channel = await layer.new_channel()
        await layer.group_add(streams.user_group(alice.pk), channel)
        stop = asyncio.Event()
        # Polling only every 3 s: the NOTIFY at commit is what wakes the publisher.
        publisher = OutboxPublisher(layer=layer, poll_seconds=3.0)
        running = asyncio.ensure_future(publisher.run(stop))
        await asyncio.sleep(0.3)  # the lock taken, the first (empty) round done, waiting
        assert await db(_try_lock) is False
        started = time.monotonic()
        await db(write, alice.pk)
        message = await asyncio.wait_for(layer.receive(channel), 5)
        assert time.monotonic() - started < 2.5
        assert message == {
            "type": streams.EVENTS_MESSAGE_TYPE,
            "events": [
                ["account.orderUpdate", ORDER],
                ["account.balanceUpdate", BALANCE],
                ["account.balanceUpdate", BALANCE],
            ],
            "user": alice.pk,
        }
        while await db(unpublished):  # marked right after the send
            assert time.monotonic() - started < 5
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(running, 10)
        assert await db(_try_lock) is True  # released with the publisher's session
        await db(unlock_all)

    run(scenario)


class _RedisDown:
    def send(self, messages: Sequence[Message]) -> None:
        raise ConnectionError("Redis is down")

    def watched(self, groups: Sequence[str]) -> list[bool]:
        return [True] * len(groups)

    def close(self) -> None:
        pass


@pytest.mark.django_db(transaction=True)
def test_what_could_not_be_sent_stays_unpublished_and_goes_out_next_round(layer, alice):
    async def scenario() -> None:
        channel = await layer.new_channel()
        await layer.group_add(streams.user_group(alice.pk), channel)
        await db(write, alice.pk)
        publisher = OutboxPublisher(layer=layer)
        try:
            publisher.sender = _RedisDown()
            with pytest.raises(ConnectionError):
                await publisher.publish_round(wait=False)
            assert await db(unpublished) == 2
            publisher.sender = None  # Redis back: the layer's own sender
            assert await publisher.publish_round(wait=False) == 2
            assert await db(unpublished) == 0
            assert len((await layer.receive(channel))["events"]) == 3
        finally:
            await publisher.close()

    run(scenario)
