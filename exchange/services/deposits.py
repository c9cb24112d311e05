"""Deposits: a chain adapter (or a staff member) reports funds; the ledger credits them once.

A deposit from a blocked address (a listed wallet, compliance screening) is recorded as held and
not credited: the ledger does not count it (no entry, so `check_ledger`'s "funds inside equal
confirmed deposits" holds) until an officer releases it (then it is posted like any deposit) or
rejects it (declined; the coins are returned or frozen outside the ledger, as the authority
directs). Each decision is audited.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from compliance.services.audit import audit_record
from compliance.services.screening import address_is_blocked, address_screen
from core.errors import DomainError, Forbidden, InvalidAsset, InvalidQuantity, InvalidRequest, NotFound
from exchange.models import AccountKind, Asset, Deposit, DepositStatus, EntryKind
from exchange.services.ledger import Line, house_account, ledger_account_get, ledger_post
from exchange.services.withdrawal_addresses import withdrawal_address_proof_match

REVIEW_PERMISSION = "exchange.review_deposit"
HELD_REASON = "Sender address flagged by compliance screening"


class DepositStateError(DomainError):
    """The deposit is not held for review (already decided): nothing changed."""

    code = "PRECONDITION_FAILED"


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
    """Record a deposit and post it: external -> the user's available balance; or, from a blocked
    sender address, record it held (no posting) and raise an address alert on the user.

    A chain transaction (`source`, `transaction_hash`) is recorded at most once: a repeated report
    returns the first deposit unchanged. A deposit that completes a Satoshi test of the user's
    address book proves control of that address. Raises InvalidQuantity for a non-positive amount
    or one finer than the asset's precision, InvalidAsset for an asset with no token on `source`.
    """
    if quantity <= 0 or quantity != quantity.quantize(asset.step):
        raise InvalidQuantity(f"deposit quantity must be positive with at most {asset.decimals} decimals")
    token = None
    if source != "administrator":
        token = asset.tokens.filter(blockchain__iexact=source).first()
        if token is None:
            raise InvalidAsset(f"{asset.symbol} cannot be deposited on {source}")
    if transaction_hash:
        existing = Deposit.objects.filter(source=source, transaction_hash=transaction_hash).first()
        if existing is not None:
            return existing
    held = bool(
        token is not None
        and from_address
        and address_is_blocked(address=from_address, blockchain=token.blockchain)
    )
    try:
        with transaction.atomic():
            deposit = Deposit.objects.create(
                user_id=user_id,
                asset=asset,
                quantity=quantity,
                source=source,
                status=DepositStatus.HELD if held else DepositStatus.CONFIRMED,
                transaction_hash=transaction_hash,
                from_address=from_address,
                to_address=to_address,
                created_by_id=created_by_id,
                memo=memo,
                review_reason=HELD_REASON if held else "",
            )
    except IntegrityError:
        # The same transaction reported concurrently: the other report won.
        return Deposit.objects.get(source=source, transaction_hash=transaction_hash)
    if held:
        assert token is not None
        address_screen(
            address=from_address,
            blockchain=token.blockchain,
            user=User.objects.get(pk=user_id),
            context=f"deposit:{deposit.pk}",
        )
        audit_record(
            actor=None,
            action="deposit.hold",
            target=deposit,
            after={"status": DepositStatus.HELD, "from_address": from_address, "quantity": quantity},
        )
        return deposit
    _post(deposit)
    if token is not None:
        withdrawal_address_proof_match(
            user_id=user_id,
            asset=asset,
            quantity=quantity,
            from_address=from_address,
            blockchain=token.blockchain,
            evidence=f"deposit #{deposit.pk} {transaction_hash or ''}".strip(),
        )
    return deposit


def _post(deposit: Deposit) -> None:
    entry = ledger_post(
        kind=EntryKind.DEPOSIT,
        lines=[
            Line(house_account(kind=AccountKind.EXTERNAL, asset=deposit.asset), -deposit.quantity),
            Line(
                ledger_account_get(owner_id=deposit.user_id, kind=AccountKind.AVAILABLE, asset=deposit.asset),
                deposit.quantity,
            ),
        ],
        reference=f"deposit:{deposit.pk}",
        idempotency_key=f"deposit:{deposit.pk}",
        created_by_id=deposit.created_by_id,
        memo=deposit.memo,
    )
    Deposit.objects.filter(pk=deposit.pk).update(entry=entry)
    deposit.entry = entry


def _check_reviewer(*, officer: User, deposit: Deposit) -> None:
    if not officer.is_active or not officer.is_staff or not officer.has_perm(REVIEW_PERMISSION):
        raise Forbidden("Only compliance officers may release or reject held deposits")
    if officer.pk == deposit.user_id:
        raise Forbidden("Nobody may decide on their own deposit")


def _decide(*, deposit_id: int, officer: User, target: str, reason: str) -> Deposit:
    reason = reason.strip()
    if not reason:
        raise InvalidRequest("A decision on a held deposit needs a reason")
    deposit = Deposit.objects.select_related("asset").filter(pk=deposit_id).first()
    if deposit is None:
        raise NotFound(f"Deposit {deposit_id} not found")
    _check_reviewer(officer=officer, deposit=deposit)
    with transaction.atomic(durable=True):
        now = timezone.now()
        # Compare-and-set: two officers deciding at once cannot both credit it.
        changed = Deposit.objects.filter(pk=deposit_id, status=DepositStatus.HELD).update(
            status=target, reviewed_by=officer, reviewed_at=now, review_reason=reason[:255]
        )
        if changed != 1:
            current = Deposit.objects.filter(pk=deposit_id).values_list("status", flat=True).first()
            raise DepositStateError(f"Deposit {deposit_id} is {current}: it is not held for review")
        deposit.refresh_from_db()
        if target == DepositStatus.CONFIRMED:
            _post(deposit)
        audit_record(
            actor=officer,
            action="deposit.release" if target == DepositStatus.CONFIRMED else "deposit.reject",
            target=deposit,
            before={"status": DepositStatus.HELD},
            after={
                "status": target,
                "reason": reason,
                "quantity": deposit.quantity,
                "user_id": deposit.user_id,
            },
        )
        return deposit


def deposit_release(*, deposit_id: int, officer: User, reason: str) -> Deposit:
    """held -> confirmed: the officer cleared the sender; the deposit is credited to available.

    Raises InvalidRequest (empty reason), NotFound, Forbidden (no exchange.review_deposit, or the
    officer's own deposit), DepositStateError (not held); nothing changes then.
    """
    return _decide(deposit_id=deposit_id, officer=officer, target=DepositStatus.CONFIRMED, reason=reason)


def deposit_reject(*, deposit_id: int, officer: User, reason: str) -> Deposit:
    """held -> declined: never credited. Raises as deposit_release."""
    return _decide(deposit_id=deposit_id, officer=officer, target=DepositStatus.DECLINED, reason=reason)
