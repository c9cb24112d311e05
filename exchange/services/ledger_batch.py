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

from django.db import transaction
from django.utils import timezone

from core.db_copy import allocate_ids, copy_rows, update_from_rows
from core.errors import InsufficientFunds, LedgerImbalance
from exchange.models import LedgerAccount
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
        entry_ids = allocate_ids("exchange_journalentry", len(entries))
        copy_rows(
            "exchange_journalentry",
            ("id", "kind", "reference", "memo", "created_at"),
            (
                (entry_id, entry.kind, entry.reference, "", now)
                for entry_id, entry in zip(entry_ids, entries, strict=True)
            ),
        )
        copy_rows(
            "exchange_journalline",
            ("entry_id", "account_id", "asset_id", "amount"),
            (
                (entry_id, account_id, asset_id, amount)
                for entry_id, entry in zip(entry_ids, entries, strict=True)
                for account_id, asset_id, amount in entry.lines
            ),
        )
        update_from_rows(
            "exchange_ledgeraccount",
            "id",
            [("delta", "numeric"), ("updated_at", "timestamptz")],
            ((pk, delta, now) for pk, delta in deltas.items() if delta),
            set_sql="balance = t.balance + s.delta, updated_at = s.updated_at",
        )
