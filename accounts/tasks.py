"""Celery entry points of accounts: thin, idempotent, JSON arguments (CONVENTIONS.md)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from accounts.services.kyc_review import kyc_periodic_review_open, kyc_reviews_due

# One run opens at most this many reviews; the next beat tick takes the rest (bounded run time).
REVIEW_BATCH = 500


@shared_task(acks_late=True, time_limit=600, soft_time_limit=540)
def kyc_review_sweep() -> int:
    """Open a periodic review case (with re-screening) for every customer whose review date has
    passed. Idempotent: a customer with an open periodic case is not due."""
    opened = 0
    for profile in kyc_reviews_due(now=timezone.now()).select_related("user")[:REVIEW_BATCH]:
        opened += kyc_periodic_review_open(profile=profile).created
    return opened
