"""Many balanced entries in one go: the matching worker's settlement path.

Same rules as `ledger_post` (balanced per asset, asset precision, no funds-holding bucket below
zero), but the accounts of the whole batch are locked once, in id order, and entries, lines and
balance updates are written with a handful of statements instead of a few per entry.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from core.errors import InsufficientFunds, LedgerImbalance
from exchange.models import JournalEntry, JournalLine, LedgerAccount
from exchange.models.ledger import SIGNED_KINDS


@dataclass
class PendingEntry:
    kind: str
    reference: str
    # (account id, asset id, amount)
    lines: list[tuple[int, int, Decimal]] = field(default_factory=list)

    def add(self, account: LedgerAccount, amount: Decimal) -> None:
        if amount:
            self.lines.append((account.pk, account.asset_id, amount))


def _check_balanced(entry: PendingEntry) -> None:
    totals: dict[int, Decimal] = defaultdict(Decimal)
    for _, asset_id, amount in entry.lines:
        totals[asset_id] += amount
    if len(entry.lines) < 2 or any(totals.values()):
        raise LedgerImbalance(f"unbalanced batch entry {entry.reference}: {dict(totals)}")


def ledger_post_many(entries: Sequence[PendingEntry]) -> None:
    """Post every entry or none (the caller's transaction). Raises LedgerImbalance or
    InsufficientFunds; amounts must already be quantised to their assets."""
    entries = [entry for entry in entries if entry.lines]
    if not entries:
        return
    deltas: dict[int, Decimal] = defaultdict(Decimal)
    for entry in entries:
        _check_balanced(entry)
        for account_id, _, amount in entry.lines:
            deltas[account_id] += amount
    with transaction.atomic(savepoint=False):
        accounts = LedgerAccount.objects.select_for_update(no_key=True).filter(pk__in=deltas).order_by("pk")
        for account in accounts.only("pk", "kind", "balance"):
            if account.kind not in SIGNED_KINDS and account.balance + deltas[account.pk] < 0:
                raise InsufficientFunds(f"ledger account {account.pk} would go below zero")
        now = timezone.now()
        created = JournalEntry.objects.bulk_create(
            JournalEntry(kind=entry.kind, reference=entry.reference, created_at=now) for entry in entries
        )
        JournalLine.objects.bulk_create(
            JournalLine(entry_id=row.pk, account_id=account_id, asset_id=asset_id, amount=amount)
            for row, entry in zip(created, entries, strict=True)
            for account_id, asset_id, amount in entry.lines
        )
        changed = [(pk, delta) for pk, delta in deltas.items() if delta]
        if changed:
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE exchange_ledgeraccount AS a SET balance = a.balance + v.delta, updated_at = %s "
                    "FROM unnest(%s::bigint[], %s::numeric[]) AS v(id, delta) WHERE a.id = v.id",
                    [now, [pk for pk, _ in changed], [delta for _, delta in changed]],
                )
