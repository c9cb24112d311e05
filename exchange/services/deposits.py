"""Deposits: a chain adapter (or a staff member) reports funds; the ledger credits them once."""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction

from core.errors import InvalidAsset, InvalidQuantity
from exchange.models import AccountKind, Asset, Deposit, DepositStatus, EntryKind
from exchange.services.ledger import Line, house_account, ledger_account_get, ledger_post


@transaction.atomic
def deposit_credit(
    *,
    user_id: int,
    asset: Asset,
    quantity: Decimal,
    source: str,
    transaction_hash: str | None = None,
    from_address: str = "",
    to_address: str = "",
    created_by_id: int | None = None,
    memo: str = "",
) -> Deposit:
    """Record a confirmed deposit and post it: external -> the user's available balance.

    A chain transaction (`source`, `transaction_hash`) is credited at most once: a repeated report
    returns the first deposit unchanged. Raises InvalidQuantity for a non-positive amount or one
    finer than the asset's precision, InvalidAsset for an asset with no token on `source`.
    """
    if quantity <= 0 or quantity != quantity.quantize(asset.step):
        raise InvalidQuantity(f"deposit quantity must be positive with at most {asset.decimals} decimals")
    if source != "administrator" and not asset.tokens.filter(blockchain__iexact=source).exists():
        raise InvalidAsset(f"{asset.symbol} cannot be deposited on {source}")
    if transaction_hash:
        existing = Deposit.objects.filter(source=source, transaction_hash=transaction_hash).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            deposit = Deposit.objects.create(
                user_id=user_id,
                asset=asset,
                quantity=quantity,
                source=source,
                status=DepositStatus.CONFIRMED,
                transaction_hash=transaction_hash,
                from_address=from_address,
                to_address=to_address,
                created_by_id=created_by_id,
                memo=memo,
            )
    except IntegrityError:
        # The same transaction reported concurrently: the other report won.
        return Deposit.objects.get(source=source, transaction_hash=transaction_hash)
    entry = ledger_post(
        kind=EntryKind.DEPOSIT,
        lines=[
            Line(house_account(kind=AccountKind.EXTERNAL, asset=asset), -quantity),
            Line(ledger_account_get(owner_id=user_id, kind=AccountKind.AVAILABLE, asset=asset), quantity),
        ],
        reference=f"deposit:{deposit.pk}",
        idempotency_key=f"deposit:{deposit.pk}",
        created_by_id=created_by_id,
        memo=memo,
    )
    Deposit.objects.filter(pk=deposit.pk).update(entry=entry)
    deposit.entry = entry
    return deposit
