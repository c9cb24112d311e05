"""Celery entry points of trading: thin, idempotent, JSON arguments (CONVENTIONS.md)."""

from __future__ import annotations

from celery import shared_task

from exchange.models import Market, MarketState
from exchange.services.doorbell import matching_queue
from exchange.services.matching import HAS_PENDING
from exchange.services.matching import market_drain as drain


@shared_task(acks_late=True, time_limit=120, soft_time_limit=100)
def market_drain(market_id: int) -> int:
    """Apply the market's pending commands. A doorbell for a market another worker holds is
    dropped: the holder looks again after letting go (exchange.services.matching.market_drain)."""
    return drain(market_id).applied


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
