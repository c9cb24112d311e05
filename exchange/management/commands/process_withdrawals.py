"""`manage.py process_withdrawals`: run every unfinished withdrawal through the pipeline now.

The sweep for withdrawals whose task was never queued (broker down at commit) or is stuck, and
the way to process withdrawals where no Celery worker runs (the live test server, a drill). It
calls the same idempotent task function a worker runs, in this process.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from exchange.models import Withdrawal
from exchange.services.withdrawals import FINAL_STATUSES
from exchange.tasks_custody import withdrawal_process


class Command(BaseCommand):
    help = "Process every withdrawal that is not in a final status (or only the given ids)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--id", type=int, action="append", default=[], dest="ids", metavar="ID")

    def handle(self, *args: Any, **options: Any) -> None:
        pending = Withdrawal.objects.exclude(status__in=sorted(FINAL_STATUSES))
        if options["ids"]:
            pending = pending.filter(pk__in=options["ids"])
        outcomes: Counter[str] = Counter()
        errors = 0
        for withdrawal_id in pending.order_by("pk").values_list("pk", flat=True):
            try:
                outcomes[withdrawal_process(withdrawal_id) or "missing"] += 1
            except Exception as exc:  # one bad withdrawal must not stop the sweep
                errors += 1
                self.stderr.write(f"withdrawal {withdrawal_id}: {exc!r}")
        summary = (
            ", ".join(f"{count} {status}" for status, count in sorted(outcomes.items())) or "nothing to do"
        )
        if errors:
            raise CommandError(f"processed withdrawals: {summary}; {errors} error(s)")
        self.stdout.write(f"processed withdrawals: {summary}")
