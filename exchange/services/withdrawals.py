"""Withdrawals: a request locks the funds; the pipeline moves the withdrawal one compare-and-set at a time.

    requested --approve--> approved --sign--> signed --broadcast--> broadcast --confirm--> confirmed
        |                     |                 |
        +---------------------+-----------------+--reject--> rejected / --fail--> failed

Ledger postings (one entry each, with an idempotency key per withdrawal and step):

    request          available -(quantity + fee)-> locked                    hold_entry
    confirm          locked -(quantity)-> house EXTERNAL, -(fee)-> house FEES settle_entry
    reject / fail    locked -(quantity + fee)-> available                     (release)

The fee stays inside the exchange (house FEES), so `check_ledger`'s "funds inside" is confirmed
deposits minus confirmed withdrawals' quantity. A broadcast withdrawal cannot be failed or
rejected: its transfer may still be mined, and releasing the funds then would pay twice.

Every move is `UPDATE ... WHERE id = %s AND status IN (<from>)` that must change exactly one row:
two workers (a redelivered task), or a worker and an officer, racing on one withdrawal queue on
the row lock and the loser changes nothing. A repeated move raises WithdrawalAlreadyInState; a move
from any other status raises WithdrawalStateError.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.services.two_factor import INVALID_TWO_FACTOR_CODE, totp_device_verify, user_has_2fa
from core.errors import (
    DomainError,
    InsufficientFunds,
    InvalidAsset,
    InvalidQuantity,
    InvalidRequest,
    NotFound,
)
from exchange.chain.simulated_withdrawals import ChainRejected, WithdrawalSender, address_is_plausible
from exchange.models import (
    AccountKind,
    Asset,
    AssetToken,
    EntryKind,
    LedgerAccount,
    Withdrawal,
    WithdrawalStatus,
)
from exchange.services.ledger import Line, house_account, ledger_account_get, ledger_post

logger = logging.getLogger(__name__)

FINAL_STATUSES = frozenset({WithdrawalStatus.CONFIRMED, WithdrawalStatus.REJECTED, WithdrawalStatus.FAILED})
# Before broadcast nothing has left the exchange, so the funds can still go back to the user.
RELEASABLE_STATUSES = (WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED, WithdrawalStatus.SIGNED)
# Withdrawal.quantity is DecimalField(38, 18): at most 20 integer digits.
MAX_QUANTITY = Decimal(10) ** 20
CLIENT_ID_MAX_LENGTH = Withdrawal._meta.get_field("client_id").max_length or 128
ADDRESS_MAX_LENGTH = Withdrawal._meta.get_field("to_address").max_length or 128
HASH_MAX_LENGTH = Withdrawal._meta.get_field("transaction_hash").max_length or 128
REASON_MAX_LENGTH = Withdrawal._meta.get_field("reason").max_length or 255


class WithdrawalStateError(DomainError):
    """The withdrawal is not in a status the requested move starts from."""

    code = "PRECONDITION_FAILED"

    def __init__(self, message: str, *, withdrawal: Withdrawal) -> None:
        super().__init__(message)
        self.withdrawal = withdrawal


class WithdrawalAlreadyInState(WithdrawalStateError):
    """The move was already made (a repeated call): nothing changed."""


# --- request ----------------------------------------------------------------------------------


def withdrawal_request(
    *,
    user: User,
    asset_symbol: str,
    blockchain: str,
    address: str,
    quantity: Decimal,
    client_id: str = "",
    two_factor_token: str | None = None,
) -> Withdrawal:
    """Lock `quantity` plus the token's withdrawal fee and record the withdrawal as requested.

    `blockchain` is matched case-insensitively (`solana` is `Solana`). The user pays the fee on
    top: `quantity` is what the address receives. With a confirmed TOTP device the user must give
    a current code. After commit the withdrawal is queued for processing.

    Raises InvalidAsset (unknown asset, no token on the chain, withdrawals disabled), InvalidRequest
    (unsupported chain, implausible address, clientId too long), InvalidQuantity (not positive,
    finer than the asset's precision, below the minimum or above the maximum withdrawal),
    InvalidRequest with code INVALID_TWO_FACTOR_CODE (code missing, wrong, reused or throttled) and
    InsufficientFunds (available balance below quantity + fee). On any of them nothing changes,
    except that a wrong two-factor code counts towards the throttle.
    """
    token = _withdrawable_token(asset_symbol=asset_symbol, blockchain=blockchain)
    asset = token.asset
    address = address.strip()
    if len(address) > ADDRESS_MAX_LENGTH or not address_is_plausible(
        blockchain=token.blockchain, address=address
    ):
        raise InvalidRequest(f"Invalid {token.blockchain} address: {address}")
    _check_quantity(token=token, quantity=quantity)
    client_id = str(client_id)
    if len(client_id) > CLIENT_ID_MAX_LENGTH:
        raise InvalidRequest(f"clientId is at most {CLIENT_ID_MAX_LENGTH} characters")
    total = quantity + token.withdrawal_fee
    # An early, unlocked look so an obvious shortfall does not use up the user's two-factor code;
    # the posting below re-checks under the row lock.
    available = _available_balance(user=user, asset=asset)
    if available < total:
        raise InsufficientFunds(
            f"Insufficient available {asset.symbol}: have {available.normalize():f}, "
            f"need {total.normalize():f} (including a fee of {token.withdrawal_fee.normalize():f})"
        )
    # Outside the transaction: a wrong code's failure count must be committed, not rolled back with
    # the refusal, or the throttle would never engage.
    _check_two_factor(user=user, token=two_factor_token)
    with transaction.atomic(durable=True):
        withdrawal = Withdrawal.objects.create(
            user=user,
            asset=asset,
            blockchain=token.blockchain,
            to_address=address,
            client_id=client_id,
            quantity=quantity,
            fee=token.withdrawal_fee,
            status=WithdrawalStatus.REQUESTED,
        )
        hold = ledger_post(
            kind=EntryKind.HOLD,
            lines=[
                Line(ledger_account_get(owner_id=user.pk, kind=AccountKind.AVAILABLE, asset=asset), -total),
                Line(ledger_account_get(owner_id=user.pk, kind=AccountKind.LOCKED, asset=asset), total),
            ],
            reference=f"withdrawal:{withdrawal.pk}",
            idempotency_key=f"withdrawal:{withdrawal.pk}:hold",
            created_by_id=user.pk,
        )
        Withdrawal.objects.filter(pk=withdrawal.pk).update(hold_entry=hold)
        withdrawal.hold_entry = hold
        withdrawal_id = withdrawal.pk
        # robust: the withdrawal is committed whatever the broker does; the sweep
        # (`manage.py process_withdrawals`) picks up any that were not queued.
        transaction.on_commit(lambda: _process_later(withdrawal_id), robust=True)
    return withdrawal


def _process_later(withdrawal_id: int) -> None:
    from exchange.tasks_custody import withdrawal_process  # the task module imports this one

    withdrawal_process.delay(withdrawal_id)


def _available_balance(*, user: User, asset: Asset) -> Decimal:
    balance = (
        LedgerAccount.objects.filter(owner=user, kind=AccountKind.AVAILABLE, asset=asset)
        .values_list("balance", flat=True)
        .first()
    )
    return balance if balance is not None else Decimal(0)


def _withdrawable_token(*, asset_symbol: str, blockchain: str) -> AssetToken:
    asset = Asset.objects.filter(symbol=asset_symbol).first()
    if asset is None:
        raise InvalidAsset(f"Unknown asset: {asset_symbol}")
    name = blockchain.strip()
    token = asset.tokens.select_related("asset").filter(blockchain__iexact=name).first()
    if token is None:
        if not name or not AssetToken.objects.filter(blockchain__iexact=name).exists():
            raise InvalidRequest(f"Unsupported blockchain: {blockchain}")
        raise InvalidAsset(f"{asset.symbol} cannot be withdrawn on {name}")
    if not token.withdraw_enabled:
        raise InvalidAsset(f"Withdrawals of {asset.symbol} on {token.blockchain} are disabled")
    return token


def _check_quantity(*, token: AssetToken, quantity: Decimal) -> None:
    asset = token.asset
    if not isinstance(quantity, Decimal) or not quantity.is_finite() or quantity <= 0:
        raise InvalidQuantity("Quantity must be a positive decimal")
    if quantity >= MAX_QUANTITY:
        raise InvalidQuantity("Quantity is too large")
    try:
        exact = quantity == quantity.quantize(asset.step)
    except InvalidOperation:
        exact = False
    if not exact:
        raise InvalidQuantity(f"{asset.symbol} quantities have at most {asset.decimals} decimals")
    if quantity < token.minimum_withdrawal:
        raise InvalidQuantity(
            f"Minimum withdrawal of {asset.symbol} on {token.blockchain} is "
            f"{token.minimum_withdrawal.normalize():f}"
        )
    if token.maximum_withdrawal is not None and quantity > token.maximum_withdrawal:
        raise InvalidQuantity(
            f"Maximum withdrawal of {asset.symbol} on {token.blockchain} is "
            f"{token.maximum_withdrawal.normalize():f}"
        )


def _check_two_factor(*, user: User, token: str | None) -> None:
    if not user_has_2fa(user):
        return
    if not token:
        raise InvalidRequest("Two-factor code required", code=INVALID_TWO_FACTOR_CODE)
    # totp_device_verify rather than totp_verify: same check, but its refusal says when a
    # throttled user may try again.
    totp_device_verify(user=user, token=token)


# --- the pipeline -----------------------------------------------------------------------------


def withdrawal_checks(withdrawal: Withdrawal) -> list[str]:
    """Reasons to reject `withdrawal`; empty means it may go out.

    The compliance hook: address screening, travel-rule information (Regulation (EU) 2023/1113
    Art. 14), limits and four-eyes approval above a threshold plug in here. It runs outside any
    transaction, so a check may call a screening service.
    """
    from compliance.services.withdrawal_gate import withdrawal_compliance_reasons

    return withdrawal_compliance_reasons(withdrawal)


def withdrawal_approve(*, withdrawal_id: int) -> Withdrawal:
    """requested -> approved if `withdrawal_checks` finds nothing; otherwise rejects it (releasing
    the funds) with the reasons, and returns it rejected.

    Raises NotFound, WithdrawalAlreadyInState (already approved), WithdrawalStateError (any other
    status).
    """
    withdrawal = _get(withdrawal_id)
    if withdrawal.status != WithdrawalStatus.REQUESTED:
        raise _state_error(withdrawal, WithdrawalStatus.APPROVED)
    reasons = withdrawal_checks(withdrawal)
    if reasons:
        return withdrawal_reject(withdrawal_id=withdrawal_id, reason="; ".join(reasons))
    with transaction.atomic(durable=True):
        return _move(
            withdrawal_id=withdrawal_id,
            sources=[WithdrawalStatus.REQUESTED],
            target=WithdrawalStatus.APPROVED,
        )


def withdrawal_sign(*, withdrawal_id: int) -> Withdrawal:
    """approved -> signed. Raises NotFound, WithdrawalAlreadyInState, WithdrawalStateError."""
    with transaction.atomic(durable=True):
        return _move(
            withdrawal_id=withdrawal_id, sources=[WithdrawalStatus.APPROVED], target=WithdrawalStatus.SIGNED
        )


def withdrawal_broadcast(*, withdrawal_id: int, transaction_hash: str) -> Withdrawal:
    """signed -> broadcast, recording the transfer's hash (a repeated call keeps the first hash).

    Raises InvalidRequest (empty or overlong hash), NotFound, WithdrawalAlreadyInState,
    WithdrawalStateError.
    """
    transaction_hash = transaction_hash.strip()
    if not transaction_hash or len(transaction_hash) > HASH_MAX_LENGTH:
        raise InvalidRequest(f"A transaction hash has 1 to {HASH_MAX_LENGTH} characters")
    with transaction.atomic(durable=True):
        return _move(
            withdrawal_id=withdrawal_id,
            sources=[WithdrawalStatus.SIGNED],
            target=WithdrawalStatus.BROADCAST,
            transaction_hash=transaction_hash,
        )


def withdrawal_confirm(*, withdrawal_id: int) -> Withdrawal:
    """broadcast -> confirmed: the locked quantity goes to house EXTERNAL, the fee to house FEES.

    Raises NotFound, WithdrawalAlreadyInState, WithdrawalStateError.
    """
    with transaction.atomic(durable=True):
        withdrawal = _move(
            withdrawal_id=withdrawal_id,
            sources=[WithdrawalStatus.BROADCAST],
            target=WithdrawalStatus.CONFIRMED,
        )
        asset = withdrawal.asset
        lines = [
            Line(
                ledger_account_get(owner_id=withdrawal.user_id, kind=AccountKind.LOCKED, asset=asset),
                -(withdrawal.quantity + withdrawal.fee),
            ),
            Line(house_account(kind=AccountKind.EXTERNAL, asset=asset), withdrawal.quantity),
        ]
        if withdrawal.fee:
            lines.append(Line(house_account(kind=AccountKind.FEES, asset=asset), withdrawal.fee))
        settle = ledger_post(
            kind=EntryKind.WITHDRAWAL,
            lines=lines,
            reference=f"withdrawal:{withdrawal.pk}",
            idempotency_key=f"withdrawal:{withdrawal.pk}:settle",
        )
        Withdrawal.objects.filter(pk=withdrawal.pk).update(settle_entry=settle)
        withdrawal.settle_entry = settle
        return withdrawal


def withdrawal_reject(*, withdrawal_id: int, reason: str) -> Withdrawal:
    """requested/approved/signed -> rejected (a compliance or staff decision); releases quantity +
    fee to available. Raises NotFound, WithdrawalAlreadyInState, WithdrawalStateError."""
    return _release(withdrawal_id=withdrawal_id, target=WithdrawalStatus.REJECTED, reason=reason)


def withdrawal_fail(*, withdrawal_id: int, reason: str = "") -> Withdrawal:
    """requested/approved/signed -> failed (the chain refused it); releases quantity + fee to
    available. Raises NotFound, WithdrawalAlreadyInState, WithdrawalStateError."""
    return _release(withdrawal_id=withdrawal_id, target=WithdrawalStatus.FAILED, reason=reason)


def withdrawal_advance(*, withdrawal_id: int, chain: WithdrawalSender) -> Withdrawal:
    """Move a withdrawal as far along the pipeline as it can go now, skipping steps already done.

    Idempotent, so a redelivered task or two workers on one withdrawal are harmless: each step is
    a compare-and-set, and a lost race re-reads the withdrawal and carries on from where the
    winner left it. `chain.send` runs outside any transaction; a ChainRejected from it fails the
    withdrawal. Returns the withdrawal in a final status, or broadcast while the chain has not
    confirmed it yet. Raises NotFound.
    """
    # Four moves take any withdrawal to a final status; the rest is headroom for lost races.
    for _ in range(8):
        withdrawal = _get(withdrawal_id)
        status = withdrawal.status
        if status in FINAL_STATUSES:
            return withdrawal
        try:
            if status == WithdrawalStatus.REQUESTED:
                withdrawal_approve(withdrawal_id=withdrawal_id)
            elif status == WithdrawalStatus.APPROVED:
                withdrawal_sign(withdrawal_id=withdrawal_id)
            elif status == WithdrawalStatus.SIGNED:
                try:
                    transaction_hash = chain.send(withdrawal)
                except ChainRejected as exc:
                    logger.warning("withdrawal %s rejected by the chain: %s", withdrawal_id, exc)
                    withdrawal_fail(withdrawal_id=withdrawal_id, reason=str(exc))
                else:
                    withdrawal_broadcast(withdrawal_id=withdrawal_id, transaction_hash=transaction_hash)
            elif status == WithdrawalStatus.BROADCAST:
                if not chain.is_confirmed(withdrawal):
                    return withdrawal
                withdrawal_confirm(withdrawal_id=withdrawal_id)
        except WithdrawalStateError:
            # Someone else moved it between the read above and the move: read it again.
            continue
    return _get(withdrawal_id)


def _release(*, withdrawal_id: int, target: WithdrawalStatus, reason: str) -> Withdrawal:
    with transaction.atomic(durable=True):
        withdrawal = _move(
            withdrawal_id=withdrawal_id,
            sources=RELEASABLE_STATUSES,
            target=target,
            reason=reason[:REASON_MAX_LENGTH],
        )
        asset = withdrawal.asset
        total = withdrawal.quantity + withdrawal.fee
        ledger_post(
            kind=EntryKind.RELEASE,
            lines=[
                Line(
                    ledger_account_get(owner_id=withdrawal.user_id, kind=AccountKind.LOCKED, asset=asset),
                    -total,
                ),
                Line(
                    ledger_account_get(owner_id=withdrawal.user_id, kind=AccountKind.AVAILABLE, asset=asset),
                    total,
                ),
            ],
            reference=f"withdrawal:{withdrawal.pk}",
            idempotency_key=f"withdrawal:{withdrawal.pk}:release",
            memo=reason[:REASON_MAX_LENGTH],
        )
        return withdrawal


def _move(*, withdrawal_id: int, sources: Collection[str], target: str, **changes: Any) -> Withdrawal:
    """Compare-and-set the status inside the caller's transaction; the updated withdrawal.

    The conditional UPDATE takes the row lock: a concurrent move of the same withdrawal waits for
    this transaction, then finds the status changed and updates nothing.
    """
    changed = Withdrawal.objects.filter(pk=withdrawal_id, status__in=list(sources)).update(
        status=target, updated_at=timezone.now(), **changes
    )
    withdrawal = _get(withdrawal_id)
    if changed != 1:
        raise _state_error(withdrawal, target)
    return withdrawal


def _get(withdrawal_id: int) -> Withdrawal:
    withdrawal = Withdrawal.objects.select_related("asset").filter(pk=withdrawal_id).first()
    if withdrawal is None:
        raise NotFound(f"Withdrawal {withdrawal_id} not found")
    return withdrawal


def _state_error(withdrawal: Withdrawal, target: str) -> WithdrawalStateError:
    if withdrawal.status == target:
        return WithdrawalAlreadyInState(
            f"Withdrawal {withdrawal.pk} is already {target}: nothing changed", withdrawal=withdrawal
        )
    return WithdrawalStateError(
        f"Withdrawal {withdrawal.pk} is {withdrawal.status}: it cannot become {target}", withdrawal=withdrawal
    )
