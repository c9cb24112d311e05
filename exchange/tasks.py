"""Celery entry points of trading: thin, idempotent, JSON arguments (CONVENTIONS.md)."""

from __future__ import annotations

import time
import uuid

from celery import shared_task

from exchange.models import Market, MarketState
from exchange.services.doorbell import doorbell_defer, doorbell_wait, doorbell_wait_end, matching_queue
from exchange.services.matching import HAS_PENDING
from exchange.services.matching import market_drain as drain

# A drain that has applied everything waits this long for the next command before its task ends,
# and keeps draining while commands keep coming, up to DRAIN_TASK_SECONDS: at a steady trickle of
# orders one task serves many of them instead of one task (and its broker round trips) per few
# commands. Bounded, because the matching worker's processes serve every market's queue.
DRAIN_IDLE_WAIT_SECONDS = 0.25
DRAIN_TASK_SECONDS = 2.0


@shared_task(acks_late=True, time_limit=120, soft_time_limit=100)
def market_drain(market_id: int) -> int:
    """Apply the market's pending commands, and go on while more arrive. A doorbell for a market
    another worker holds is dropped: the holder looks again after letting go
    (exchange.services.matching.market_drain)."""
    if doorbell_defer(market_id=market_id):
        return 0  # a drain waiting on this market was woken instead
    applied = 0
    deadline = time.monotonic() + DRAIN_TASK_SECONDS
    waiter = uuid.uuid4().hex
    try:
        report = drain(market_id)
        applied += report.applied
        # A task whose first drain found nothing (a doorbell another drain already answered)
        # does not wait: that drain cleared the ringing mark before it looked, so later commands
        # queue a task again.
        if report.busy or not report.applied:
            return applied
        while time.monotonic() < deadline and doorbell_wait(
            market_id=market_id, timeout=DRAIN_IDLE_WAIT_SECONDS, waiter=waiter
        ):
            report = drain(market_id)
            applied += report.applied
            if report.busy:
                return applied
    finally:
        # Give up the waiting role before the last look, so a drain task that found the role
        # taken (and left its command to this one) is covered by that look.
        doorbell_wait_end(market_id=market_id, waiter=waiter)
    # The last look clears the ringing mark first: a command whose ring saw the mark is read now,
    # and any later one queues a new task.
    return applied + drain(market_id).applied


# Both limits: a task-level hard limit under the global soft one makes Celery refuse to send it.
@shared_task(acks_late=True, time_limit=30, soft_time_limit=25)
def market_sweep() -> int:
    """Ring every market with pending commands: covers doorbells lost to a broker outage or a crash."""
    pending = MarketState.objects.filter(HAS_PENDING).values_list("market_id", "market__symbol")
    for market_id, symbol in pending:
        market_drain.apply_async(args=[market_id], queue=matching_queue(symbol))
    return len(pending)


def matching_queues() -> list[str]:
    return [
        matching_queue(symbol)
        for symbol in Market.objects.order_by("symbol").values_list("symbol", flat=True)
    ]
