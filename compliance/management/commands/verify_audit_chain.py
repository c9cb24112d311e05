from __future__ import annotations

import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from compliance.models import AuditEntry
from compliance.services.audit import audit_verify

ANCHOR = re.compile(r"^(\d+):([0-9a-f]{64})$")


def _anchor(value: str) -> tuple[int, str]:
    match = ANCHOR.match(value.strip().lower())
    if match is None:
        raise ValueError("an anchor is ID:SHA256HEX")
    return int(match.group(1)), match.group(2)


class Command(BaseCommand):
    help = (
        "Walk the audit trail's hash chain; exits non-zero if any entry was edited, deleted or "
        "reordered, or an anchor does not match. Prints the head (ID:HASH) to record as an anchor."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--anchor",
            action="append",
            default=[],
            type=_anchor,
            metavar="ID:HASH",
            help="An entry's id and hash recorded earlier (detects truncation); repeatable.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with tqdm(
            total=AuditEntry.objects.count(),
            desc="verifying audit chain",
            unit="entry",
            disable=options["verbosity"] < 1,
        ) as bar:
            report = audit_verify(anchors=options["anchor"], progress=bar.update)
        for problem in report.problems:
            self.stderr.write(problem)
        if not report.ok:
            raise CommandError(f"audit chain broken: {len(report.problems)} problem(s)")
        head = f"{report.head_id}:{report.head_hash}" if report.head_id else "empty"
        self.stdout.write(self.style.SUCCESS(f"audit chain ok: {report.checked} entries; head {head}"))
