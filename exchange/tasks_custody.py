"""Custody tasks: thin wrappers that call the withdrawal services with the configured chain.

Tasks take ids (JSON), are idempotent (the broker may deliver twice, and `manage.py
process_withdrawals` may run the same withdrawal at the same time) and have time limits.
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError

from config.celery import app
from core.errors import NotFound
from exchange.chain.simulated_withdrawals import SimulatedChain
from exchange.models import Withdrawal
from exchange.services.withdrawals import FINAL_STATUSES, withdrawal_advance

logger = logging.getLogger(__name__)


@app.task(
    name="exchange.withdrawal_process",
    ignore_result=True,
    acks_late=True,
    # One withdrawal is a handful of short transactions and one chain call.
    soft_time_limit=50,
    time_limit=60,
    # Only a lost database connection is worth retrying; domain refusals are final.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
)
def withdrawal_process(withdrawal_id: int) -> str | None:
    """Approve, sign, broadcast and confirm one withdrawal, skipping the steps already done.

    Returns the status it reached (None if the withdrawal does not exist).
    """
    try:
        withdrawal = withdrawal_advance(withdrawal_id=int(withdrawal_id), chain=SimulatedChain())
    except NotFound:
        logger.warning("withdrawal %s not found", withdrawal_id)
        return None
    return str(withdrawal.status)


@app.task(
    name="exchange.withdrawal_sweep", ignore_result=True, acks_late=True, soft_time_limit=50, time_limit=60
)
def withdrawal_sweep() -> int:
    """Queue every withdrawal not in a final status: covers tasks lost to a broker outage at commit
    and broadcasts still waiting for confirmations. For a periodic schedule (Celery beat)."""
    pending = list(
        Withdrawal.objects.exclude(status__in=sorted(FINAL_STATUSES))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for withdrawal_id in pending:
        withdrawal_process.delay(withdrawal_id)
    return len(pending)
