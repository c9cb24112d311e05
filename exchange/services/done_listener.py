"""One Redis subscription per web process for the matching worker's "command done" notices.

A REST call waiting for the worker's answer used to block its thread on a Redis `BLPOP` of its
own: a pooled Redis connection and a round trip per request, and every waiting thread contending
for redis-py's pool lock (docs/PERFORMANCE.md, REST API). Here the process's event loop holds one
pub/sub connection; a waiting thread hands it a future keyed by (market, sequence) and sleeps on
that future's lock until the notice arrives or the wait runs out (a call served on the loop
itself awaits it, `wait_async`). The notice carries the state the batch left each changed order
in, so the call renders its answer without reading the order again.

Nothing here is needed for correctness, as for the rest of the doorbell: a notice missed (Redis
gone, the subscription being re-made) means the call answers with the order as accepted after
its bounded wait, exactly as when the worker is slow. Without a ready listener (no event loop in
this process, or not subscribed yet) callers use the per-request `BLPOP` instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

import redis
import redis.asyncio
from django.conf import settings

logger = logging.getLogger(__name__)

DONE_CHANNEL = "satchel:done"

# Notices kept after they arrive, for a waiter registering just after its command's notice (the
# worker can finish a batch before the web thread gets to wait). A few seconds at 1,000 orders/s.
RECENT_NOTICES = 8192

RECONNECT_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class OrderState:
    """An order as a committed batch left it: what a REST answer renders that the worker changes.
    `executed_*` None: unchanged by the batch."""

    order_id: int
    status: str
    executed_quantity: Decimal | None
    executed_quote_quantity: Decimal | None
    expiry_reason: str


# What a waiting call hears: the states of the orders the batch changed, by order id (an order
# absent from it, e.g. one whose trigger fired, must be read again), or None: no answer.
Answer = Mapping[int, OrderState]

_NO_STATES: Answer = {}


def done_message(*, market_id: int, sequences: list[int], orders: Iterable[OrderState] = ()) -> str:
    """The notice's text: JSON `[market id, [sequences], [[order id, status, executed quantity,
    executed quote quantity, expiry reason], ...]]`, decimals as strings."""
    rows = [
        [
            state.order_id,
            state.status,
            None if state.executed_quantity is None else str(state.executed_quantity),
            None if state.executed_quote_quantity is None else str(state.executed_quote_quantity),
            state.expiry_reason,
        ]
        for state in orders
    ]
    return json.dumps([market_id, sequences, rows], separators=(",", ":"))


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def done_parse(data: bytes | str) -> tuple[int, list[int], Answer]:
    market_id, sequences, rows = json.loads(data)
    states = {
        order_id: OrderState(order_id, status, _decimal(executed), _decimal(executed_quote), reason)
        for order_id, status, executed, executed_quote, reason in rows
    }
    return int(market_id), [int(sequence) for sequence in sequences], states or _NO_STATES


Key = tuple[int, int]


class DoneListener:
    """Owned by one event loop: only that loop's thread touches `_waiting` and `_recent`."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.ready = False  # subscribed: notices published from now on reach this process
        self._waiting: dict[Key, concurrent.futures.Future[Answer | None]] = {}
        self._recent: dict[Key, Answer] = {}  # insertion-ordered: the oldest goes first
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = self.loop.create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError):
                logger.warning("done notices: subscription lost, re-subscribing", exc_info=True)
            finally:
                self._lost()
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _listen(self) -> None:
        client = redis.asyncio.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2)
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(DONE_CHANNEL)
                async for message in pubsub.listen():
                    if message["type"] == "subscribe":
                        self.ready = True  # confirmed: no notice from here on is missed
                    elif message["type"] == "message":
                        self._notice(message["data"])
        finally:
            await client.aclose()

    def _notice(self, data: bytes) -> None:
        try:
            market_id, sequences, states = done_parse(data)
        except (ValueError, TypeError):
            logger.warning("done notices: unreadable notice %r", data[:200])
            return
        for sequence in sequences:
            key = (market_id, sequence)
            future = self._waiting.pop(key, None)
            if future is not None:
                if not future.done():
                    future.set_result(states)
                continue
            self._recent[key] = states
            if len(self._recent) > RECENT_NOTICES:
                del self._recent[next(iter(self._recent))]

    def _lost(self) -> None:
        """Notices may be missed from now on: waiters answer at once (the order as accepted)."""
        self.ready = False
        self._recent.clear()
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_result(None)

    def _register(self, key: Key, future: concurrent.futures.Future[Answer | None]) -> None:
        if not self.ready:
            future.set_result(None)
        elif (states := self._recent.pop(key, None)) is not None:  # its notice came first
            future.set_result(states)
        else:
            self._waiting[key] = future

    def _forget(self, key: Key, future: concurrent.futures.Future[Answer | None]) -> None:
        if self._waiting.get(key) is future:
            del self._waiting[key]

    def wait(self, *, market_id: int, sequence: int, timeout: float) -> Answer | None:
        """From any thread but the loop's: the batch's order states once the notice for (market,
        sequence) arrives, None when `timeout` seconds pass or the subscription is lost first."""
        key = (market_id, sequence)
        future: concurrent.futures.Future[Answer | None] = concurrent.futures.Future()
        try:
            self.loop.call_soon_threadsafe(self._register, key, future)
        except RuntimeError:  # the loop is closed
            return None
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._forget, key, future)
            return None

    async def wait_async(self, *, market_id: int, sequence: int, timeout: float) -> Answer | None:
        """On the listener's own loop: as `wait`, without a thread."""
        key = (market_id, sequence)
        future: concurrent.futures.Future[Answer | None] = concurrent.futures.Future()
        self._register(key, future)
        if future.done():
            return future.result()
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except TimeoutError:
            self._forget(key, future)
            return None

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


_listener: DoneListener | None = None


def done_listener_start() -> None:
    """From a coroutine on the process's serving loop: subscribe (once per loop)."""
    global _listener  # one per process, like a connection pool
    loop = asyncio.get_running_loop()
    if _listener is not None and _listener.loop is loop:
        return
    if _listener is not None:
        _listener.stop()
    _listener = DoneListener(loop)
    _listener.start()


def done_listener_ready() -> DoneListener | None:
    """The process's listener if it can take a waiter from this thread now, else None."""
    listener = _listener
    if listener is None or not listener.ready or listener.loop.is_closed():
        return None
    with contextlib.suppress(RuntimeError):
        if asyncio.get_running_loop() is listener.loop:  # its own thread must not block on it
            return None
    return listener


def done_listener_here() -> DoneListener | None:
    """From a coroutine: the process's listener if it is ready and runs on this loop (a call
    served on the loop can await it, `DoneListener.wait_async`), else None."""
    listener = _listener
    if listener is None or not listener.ready:
        return None
    return listener if listener.loop is asyncio.get_running_loop() else None
