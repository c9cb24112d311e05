"""Redis as a doorbell: wake the market's worker, and tell a waiting REST call its command is done.

Nothing here is needed for correctness: PostgreSQL holds every command, a periodic sweep rings
for markets with pending commands, and a REST call that hears nothing answers with the order as
accepted. Redis only makes things fast.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import redis
from django.conf import settings
from django.db import transaction

from exchange.services.done_listener import (
    DONE_CHANNEL,
    Answer,
    OrderState,
    done_listener_ready,
    done_message,
)

if TYPE_CHECKING:
    from exchange.services.settlement import BatchWriter

logger = logging.getLogger(__name__)

DONE_KEY_TTL_SECONDS = 30


@functools.cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2)


def matching_queue(symbol: str) -> str:
    return f"matching.{symbol}"


def _done_prefix(market_id: int) -> str:
    return f"satchel:done:{market_id}:"


def _done_key(market_id: int, sequence: int) -> str:
    return f"{_done_prefix(market_id)}{sequence}"


# While a drain is queued and has not started, or is running and waiting for more commands
# (`doorbell_wait`), the market is marked as ringing: a ring then only pushes a wake-up onto the
# market's wake list instead of queueing another Celery task (a task per order cost more than the
# matching). The mark expires, so a lost task costs at most this long before rings go out again
# (and the periodic sweep rings regardless).
RINGING_TTL_SECONDS = 1


def _ringing_key(market_id: int) -> str:
    return f"satchel:ringing:{market_id}"


def _wake_key(market_id: int) -> str:
    return f"satchel:wake:{market_id}"


# One round trip: mark the market as ringing, or if it already is, wake a waiting drain.
_RING_SCRIPT = """
if redis.call('SET', KEYS[1], 1, 'NX', 'PX', ARGV[1]) then return 1 end
redis.call('RPUSH', KEYS[2], 1)
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return 0
"""


@functools.cache
def _ring_script() -> Any:
    return _redis().register_script(_RING_SCRIPT)


def doorbell_ring_on_commit(*, market_id: int, symbol: str) -> None:
    """After the caller's transaction commits (at once in autocommit mode), queue a drain of the
    market on its own queue, unless one is queued or running already: then wake it instead."""

    def ring() -> None:
        from exchange.tasks import market_drain

        with contextlib.suppress(redis.RedisError):  # without Redis's answer, queue a drain anyway
            keys = [_ringing_key(market_id), _wake_key(market_id)]
            if not _ring_script()(keys=keys, args=[RINGING_TTL_SECONDS * 1000]):
                return
        try:
            market_drain.apply_async(args=[market_id], queue=matching_queue(symbol))
        except Exception:  # the broker is down: the sweep will ring later
            logger.warning("doorbell for market %s not rung", symbol, exc_info=True)

    transaction.on_commit(ring)


def doorbell_answer(*, market_id: int) -> None:
    """A drain starts: later commits must ring again. Called before the drain reads any command,
    so a command either committed before this (and is read) or rings after it. Wake-ups pushed
    so far are dropped with the mark: their commands committed before this too."""
    with contextlib.suppress(redis.RedisError):
        _redis().delete(_ringing_key(market_id), _wake_key(market_id))


def _waiter_key(market_id: int) -> str:
    return f"satchel:waiter:{market_id}"


# One waiting drain per market: the matching worker's few processes serve every market's queue,
# and a second drain of a busy market waiting alongside the first would keep another market's
# doorbell in the queue. The waiter holds the role (its own token) while it keeps waiting.
_WAIT_SCRIPT = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[2], 1, 'PX', ARGV[2])
return 1
"""


@functools.cache
def _wait_script() -> Any:
    return _redis().register_script(_WAIT_SCRIPT)


def doorbell_wait(*, market_id: int, timeout: float, waiter: str) -> bool:
    """A drain that has applied everything waits up to `timeout` seconds for the next command:
    it marks the market as ringing (so rings wake it rather than queue a task) and blocks on the
    wake list. True when woken; the caller then drains again, which clears the mark. False at
    once when another drain (`waiter` tells them apart) is already waiting on this market. On
    False the caller must drain once more (which clears the mark) before it stops, so a command
    whose ring saw the mark is not left waiting for the sweep."""
    ttl_ms = int((timeout + RINGING_TTL_SECONDS) * 1000)
    try:
        keys = [_waiter_key(market_id), _ringing_key(market_id)]
        if not _wait_script()(keys=keys, args=[waiter, ttl_ms]):
            return False
        return _redis().blpop([_wake_key(market_id)], timeout=timeout) is not None
    except redis.RedisError:
        return False


# If a drain waits on the market, wake it and say so (one round trip).
_DEFER_SCRIPT = """
if not redis.call('GET', KEYS[1]) then return 0 end
redis.call('RPUSH', KEYS[2], 1)
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return 1
"""


@functools.cache
def _defer_script() -> Any:
    return _redis().register_script(_DEFER_SCRIPT)


def doorbell_defer(*, market_id: int) -> bool:
    """A queued drain starts: if another drain waits on the market, wake that one and return True
    (the caller leaves the market to it: two processes alternating on one market rebuild its book
    each time). Safe because a waiter gives up its role before its last look (`doorbell_wait_end`
    then a drain): a command committed before this call is read by the waiter either way."""
    try:
        keys = [_waiter_key(market_id), _wake_key(market_id)]
        return bool(_defer_script()(keys=keys, args=[RINGING_TTL_SECONDS * 1000]))
    except redis.RedisError:
        return False


_WAIT_END_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""


@functools.cache
def _wait_end_script() -> Any:
    return _redis().register_script(_WAIT_END_SCRIPT)


def doorbell_wait_end(*, market_id: int, waiter: str) -> None:
    """The drain that waited with `doorbell_wait` stops: another may wait on the market now."""
    with contextlib.suppress(redis.RedisError):
        _wait_end_script()(keys=[_waiter_key(market_id)], args=[waiter])


# One round trip per batch whatever its size: a pipeline of RPUSH + EXPIRE per command cost
# ~45 us of client time per command (docs/PERFORMANCE.md, sequencer). A key per command for a
# `BLPOP` waiter, and one notice on the pub/sub channel web processes listen to (done_listener).
_NOTIFY_SCRIPT = """
for i = 4, #ARGV do
  local key = KEYS[1] .. ARGV[i]
  redis.call('RPUSH', key, 1)
  redis.call('EXPIRE', key, ARGV[1])
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return #ARGV - 3
"""


@functools.cache
def _notify_script() -> Any:
    return _redis().register_script(_NOTIFY_SCRIPT)


def batch_order_states(writer: BatchWriter) -> list[OrderState]:
    """What a committed batch left each order it changed in, as the batch wrote it
    (`BatchWriter._orders_write`). An order whose trigger fired is left out: its answer also
    needs the trigger time, so the waiting call reads it again."""
    spec = writer.spec
    states = []
    for order_id, change in writer.changes.items():
        if change.status is None or change.triggered:
            continue
        executed = executed_quote = None
        if change.executed_lots is not None:
            executed = spec.lots_to_quantity(change.executed_lots)
            executed_quote = spec.units_to_quote(change.executed_quote or 0)
        states.append(
            OrderState(order_id, str(change.status), executed, executed_quote, change.expiry_reason)
        )
    return states


def command_done_notify(*, market_id: int, sequences: list[int], orders: Iterable[OrderState] = ()) -> None:
    """Called after a batch commits: wake the REST calls waiting for these commands, telling them
    the `orders` states the batch left."""
    if not sequences:
        return
    try:
        message = done_message(market_id=market_id, sequences=sequences, orders=orders)
        _notify_script()(
            keys=[_done_prefix(market_id)], args=[DONE_KEY_TTL_SECONDS, DONE_CHANNEL, message, *sequences]
        )
    except redis.RedisError:
        logger.warning("could not notify waiters of market %s", market_id, exc_info=True)


def command_done_answer(*, market_id: int, sequence: int, timeout: float) -> Answer | None:
    """Block until the worker says `sequence` is applied, at most `timeout` seconds: on the
    process's shared subscription when it has one (a web process), else on a `BLPOP` of its own.
    The batch's order states (empty from a `BLPOP`), or None when no answer came in time."""
    listener = done_listener_ready()
    if listener is not None:
        return listener.wait(market_id=market_id, sequence=sequence, timeout=timeout)
    with contextlib.suppress(redis.RedisError):
        if _redis().blpop([_done_key(market_id, sequence)], timeout=timeout) is not None:
            return {}
    return None


def command_done_wait(*, market_id: int, sequence: int, timeout: float) -> bool:
    """As `command_done_answer`: True once the worker says `sequence` is applied."""
    return command_done_answer(market_id=market_id, sequence=sequence, timeout=timeout) is not None
