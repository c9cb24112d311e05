"""Redis as a doorbell: wake the market's worker, and tell a waiting REST call its command is done.

Nothing here is needed for correctness: PostgreSQL holds every command, a periodic sweep rings
for markets with pending commands, and a REST call that hears nothing answers with the order as
accepted. Redis only makes things fast.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from typing import Any

import redis
from django.conf import settings
from django.db import transaction

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


# While a drain is queued and has not started, further rings are dropped: the queued drain reads
# every command committed before it starts. The mark expires, so a lost task costs at most this
# long before rings go out again (and the periodic sweep rings regardless).
RINGING_TTL_SECONDS = 1


def _ringing_key(market_id: int) -> str:
    return f"satchel:ringing:{market_id}"


def doorbell_ring_on_commit(*, market_id: int, symbol: str) -> None:
    """After the caller's transaction commits, queue a drain of the market on its own queue,
    unless one is already queued (a Celery task per order cost more than the matching)."""

    def ring() -> None:
        from exchange.tasks import market_drain

        with contextlib.suppress(redis.RedisError):  # without Redis's answer, ring anyway
            if not _redis().set(_ringing_key(market_id), 1, nx=True, ex=RINGING_TTL_SECONDS):
                return
        try:
            market_drain.apply_async(args=[market_id], queue=matching_queue(symbol))
        except Exception:  # the broker is down: the sweep will ring later
            logger.warning("doorbell for market %s not rung", symbol, exc_info=True)

    transaction.on_commit(ring)


def doorbell_answer(*, market_id: int) -> None:
    """A drain starts: later commits must ring again. Called before the drain reads any command,
    so a command either committed before this (and is read) or rings after it."""
    with contextlib.suppress(redis.RedisError):
        _redis().delete(_ringing_key(market_id))


# One round trip per batch whatever its size: a pipeline of RPUSH + EXPIRE per command cost
# ~45 us of client time per command (docs/PERFORMANCE.md, sequencer).
_NOTIFY_SCRIPT = """
for i = 2, #ARGV do
  local key = KEYS[1] .. ARGV[i]
  redis.call('RPUSH', key, 1)
  redis.call('EXPIRE', key, ARGV[1])
end
return #ARGV - 1
"""


@functools.cache
def _notify_script() -> Any:
    return _redis().register_script(_NOTIFY_SCRIPT)


def command_done_notify(*, market_id: int, sequences: list[int]) -> None:
    """Called after a batch commits: wake the REST calls waiting for these commands."""
    if not sequences:
        return
    try:
        _notify_script()(keys=[_done_prefix(market_id)], args=[DONE_KEY_TTL_SECONDS, *sequences])
    except redis.RedisError:
        logger.warning("could not notify waiters of market %s", market_id, exc_info=True)


def command_done_wait(*, market_id: int, sequence: int, timeout: float) -> bool:
    """Block until the worker says `sequence` is applied, at most `timeout` seconds."""
    with contextlib.suppress(redis.RedisError):
        return _redis().blpop([_done_key(market_id, sequence)], timeout=timeout) is not None
    return False
