"""Redis as a doorbell: wake the market's worker, and tell a waiting REST call its command is done.

Nothing here is needed for correctness: PostgreSQL holds every command, a periodic sweep rings
for markets with pending commands, and a REST call that hears nothing answers with the order as
accepted. Redis only makes things fast.
"""

from __future__ import annotations

import contextlib
import functools
import logging

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


def _done_key(market_id: int, sequence: int) -> str:
    return f"satchel:done:{market_id}:{sequence}"


def doorbell_ring_on_commit(*, market_id: int, symbol: str) -> None:
    """After the caller's transaction commits, queue a drain of the market on its own queue."""

    def ring() -> None:
        from exchange.tasks import market_drain

        try:
            market_drain.apply_async(args=[market_id], queue=matching_queue(symbol))
        except Exception:  # the broker is down: the sweep will ring later
            logger.warning("doorbell for market %s not rung", symbol, exc_info=True)

    transaction.on_commit(ring)


def command_done_notify(*, market_id: int, sequences: list[int]) -> None:
    """Called after a batch commits: wake the REST calls waiting for these commands."""
    if not sequences:
        return
    try:
        pipe = _redis().pipeline(transaction=False)
        for sequence in sequences:
            key = _done_key(market_id, sequence)
            pipe.rpush(key, 1)
            pipe.expire(key, DONE_KEY_TTL_SECONDS)
        pipe.execute()
    except redis.RedisError:
        logger.warning("could not notify waiters of market %s", market_id, exc_info=True)


def command_done_wait(*, market_id: int, sequence: int, timeout: float) -> bool:
    """Block until the worker says `sequence` is applied, at most `timeout` seconds."""
    with contextlib.suppress(redis.RedisError):
        return _redis().blpop([_done_key(market_id, sequence)], timeout=timeout) is not None
    return False
