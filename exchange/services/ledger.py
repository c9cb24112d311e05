"""The only writer of ledger balances.

Lock policy: ledger accounts are locked with `SELECT ... FOR NO KEY UPDATE` in ascending id order,
so two postings touching the same accounts always queue instead of deadlocking.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from core.errors import InsufficientFunds, InvalidQuantity, LedgerImbalance
from exchange.models import AccountKind, Asset, EntryKind, JournalEntry, JournalLine, LedgerAccount
from exchange.models.ledger import SIGNED_KINDS


@dataclass(frozen=True)
class Line:
    account: LedgerAccount
    amount: Decimal


def ledger_account_get(*, owner_id: int | None, kind: str, asset: Asset) -> LedgerAccount:
    """The account for (owner, kind, asset), created on first use (an upsert on the unique key)."""
    account = LedgerAccount.objects.filter(owner_id=owner_id, kind=kind, asset=asset).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return LedgerAccount.objects.create(owner_id=owner_id, kind=kind, asset=asset)
    except IntegrityError:
        # Another transaction created it between our read and insert.
        return LedgerAccount.objects.get(owner_id=owner_id, kind=kind, asset=asset)


def house_account(*, kind: str, asset: Asset) -> LedgerAccount:
    return ledger_account_get(owner_id=None, kind=kind, asset=asset)


def _validate(lines: Sequence[Line], assets: dict[int, Asset]) -> None:
    if len(lines) < 2:
        raise LedgerImbalance("an entry needs at least two lines")
    totals: dict[int, Decimal] = defaultdict(Decimal)
    for line in lines:
        asset = assets[line.account.asset_id]
        if line.amount == 0:
            raise LedgerImbalance("a line of zero moves nothing")
        if line.amount != line.amount.quantize(asset.step):
            raise InvalidQuantity(f"{asset.symbol} amounts have at most {asset.decimals} decimals")
        totals[line.account.asset_id] += line.amount
    unbalanced = {assets[a].symbol: str(t) for a, t in totals.items() if t != 0}
    if unbalanced:
        raise LedgerImbalance(f"lines do not sum to zero per asset: {unbalanced}")


def ledger_post(
    *,
    kind: str | EntryKind,
    lines: Sequence[Line],
    reference: str = "",
    idempotency_key: str | None = None,
    memo: str = "",
    created_by_id: int | None = None,
) -> JournalEntry:
    """Post one balanced entry and update the balances it touches, atomically.

    Raises LedgerImbalance (lines do not sum to zero per asset), InvalidQuantity (more decimals
    than the asset has) and InsufficientFunds (a non-negative account would go below zero). On any
    of them nothing is written. With an `idempotency_key` that was already posted, returns the
    existing entry and changes nothing.
    """
    asset_ids = {line.account.asset_id for line in lines}
    assets = Asset.objects.in_bulk(asset_ids)
    _validate(lines, assets)
    with transaction.atomic(savepoint=False):
        if idempotency_key is not None:
            existing = JournalEntry.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return existing
        deltas: dict[int, Decimal] = defaultdict(Decimal)
        for line in lines:
            deltas[line.account.pk] += line.amount
        locked = {
            account.pk: account
            for account in LedgerAccount.objects.select_for_update(no_key=True)
            .filter(pk__in=deltas)
            .order_by("pk")
        }
        for pk, delta in deltas.items():
            account = locked[pk]
            if account.kind not in SIGNED_KINDS and account.balance + delta < 0:
                symbol = assets[account.asset_id].symbol
                raise InsufficientFunds(
                    f"Insufficient {account.kind} {symbol}: have {account.balance.normalize():f}, "
                    f"need {(-delta).normalize():f}"
                )
        entry = JournalEntry.objects.create(
            kind=kind,
            reference=reference,
            idempotency_key=idempotency_key,
            memo=memo,
            created_by_id=created_by_id,
        )
        JournalLine.objects.bulk_create(
            JournalLine(
                entry=entry, account_id=line.account.pk, asset_id=line.account.asset_id, amount=line.amount
            )
            for line in lines
        )
        now = timezone.now()
        for pk, delta in deltas.items():
            if delta:
                LedgerAccount.objects.filter(pk=pk).update(balance=F("balance") + delta, updated_at=now)
        return entry


def transfer(
    *, source: LedgerAccount, destination: LedgerAccount, amount: Decimal, kind: str, **entry: object
) -> JournalEntry:
    """Two-line entry moving `amount` of one asset between accounts."""
    return ledger_post(kind=kind, lines=[Line(source, -amount), Line(destination, amount)], **entry)  # type: ignore[arg-type]


__all__ = [
    "AccountKind",
    "Line",
    "house_account",
    "ledger_account_get",
    "ledger_post",
    "transfer",
]
