from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from exchange.services.ledger_check import CHECKS, ledger_check


class Command(BaseCommand):
    help = "Verify every ledger invariant; exits non-zero on any violation."

    def handle(self, *args: Any, **options: Any) -> None:
        with tqdm(
            total=len(CHECKS), desc="checking ledger", unit="check", disable=options["verbosity"] < 1
        ) as bar:

            def step(name: str) -> None:
                bar.set_postfix_str(name[:40])
                bar.update(1)

            report = ledger_check(progress=step)
        for problem in report.problems:
            self.stderr.write(problem)
        if not report.ok:
            raise CommandError(f"ledger check failed: {len(report.problems)} problem(s)")
        self.stdout.write(
            self.style.SUCCESS(
                f"ledger ok: {report.checked_entries} entries, {report.checked_accounts} accounts, "
                f"{len(CHECKS)} checks"
            )
        )
