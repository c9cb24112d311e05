"""Celery entry points of trading: thin, idempotent, JSON arguments (CONVENTIONS.md)."""

from __future__ import annotations

from celery import shared_task
from django.db.models import F

from exchange.models import Market, MarketState
from exchange.services.doorbell import matching_queue
from exchange.services.matching import market_drain as drain


@shared_task(bind=True, acks_late=True, max_retries=None, time_limit=120, soft_time_limit=100)
def market_drain(self, market_id: int) -> int:  # type: ignore[no-untyped-def]
    """Apply the market's pending commands. Another worker holding the market may finish just before
    this command committed, so a busy market with work left is retried shortly, not dropped."""
    report = drain(market_id)
    if (
        report.busy
        and MarketState.objects.filter(
            pk=market_id, next_sequence__gt=F("last_applied_sequence") + 1
        ).exists()
    ):
        raise self.retry(countdown=0.05)
    return report.applied


@shared_task(acks_late=True, time_limit=30)
def market_sweep() -> int:
    """Ring every market with pending commands: covers doorbells lost to a broker outage or a crash."""
    pending = MarketState.objects.filter(next_sequence__gt=F("last_applied_sequence") + 1).values_list(
        "market_id", "market__symbol"
    )
    for market_id, symbol in pending:
        market_drain.apply_async(args=[market_id], queue=matching_queue(symbol))
    return len(pending)


def matching_queues() -> list[str]:
    return [
        matching_queue(symbol)
        for symbol in Market.objects.order_by("symbol").values_list("symbol", flat=True)
    ]
