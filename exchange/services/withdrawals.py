"""Withdrawals: a request locks the funds; the pipeline moves the withdrawal one compare-and-set at a time.

    requested --approve--> approved --sign--> signed --broadcast--> broadcast --confirm--> confirmed
        |                     |                 |
        +--> held (above the four-eyes threshold) --first officer, second officer--> requested
        |      |                                   (approved by two: the pipeline goes on)
        +------------+--------+-----------------+--reject--> rejected / --fail--> failed

Controls at request time (each refusal changes nothing, see `withdrawal_request`): the KYC tier
allows withdrawals, 2FA is set up and the code is current, the tier's rolling 24-hour EUR limit,
the destination is an address-book entry past its waiting period, a self-hosted destination above
1,000 EUR has a proven owner, and the travel-rule record (IVMS101) is complete. At approval: the
compliance gate (frozen account, blocked destination), then four-eyes above
`WITHDRAWAL_FOUR_EYES_THRESHOLD_EUR`: two different officers, neither of them the requester.

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
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.kyc_tiers import Product, tier_get
from accounts.models import User
from accounts.services.access import access_require
from accounts.services.two_factor import INVALID_TWO_FACTOR_CODE, totp_device_verify, user_has_2fa
from compliance.services.audit import audit_record
from compliance.services.travel_rule import travel_rule_record_create
from core.advisory_locks import AdvisoryNamespace
from core.errors import (
    DomainError,
    Forbidden,
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
    WalletOwnership,
    Withdrawal,
    WithdrawalAddress,
    WithdrawalStatus,
)
from exchange.services.ledger import Line, house_account, ledger_account_get, ledger_post
from exchange.services.valuation import asset_value_eur
from exchange.services.withdrawal_addresses import (
    withdrawal_address_add,
    withdrawal_address_find,
    withdrawal_address_usable_message,
)

logger = logging.getLogger(__name__)

FINAL_STATUSES = frozenset({WithdrawalStatus.CONFIRMED, WithdrawalStatus.REJECTED, WithdrawalStatus.FAILED})
# Before broadcast nothing has left the exchange, so the funds can still go back to the user.
RELEASABLE_STATUSES = (
    WithdrawalStatus.REQUESTED,
    WithdrawalStatus.HELD,
    WithdrawalStatus.APPROVED,
    WithdrawalStatus.SIGNED,
)
# Withdrawals that count towards the rolling 24-hour limit: all but those whose funds came back.
LIMIT_EXCLUDED_STATUSES = (WithdrawalStatus.REJECTED, WithdrawalStatus.FAILED)
LIMIT_WINDOW = timedelta(hours=24)
# Regulation (EU) 2023/1113 Art. 14(5): above this, control of a self-hosted address is assessed.
SELF_HOSTED_PROOF_THRESHOLD_EUR = Decimal("1000")
DEFAULT_FOUR_EYES_THRESHOLD_EUR = Decimal("10000")
APPROVE_PERMISSION = "exchange.approve_withdrawal"
TWO_FACTOR_REQUIRED = "TWO_FACTOR_REQUIRED"
# pg_advisory_xact_lock(namespace, user id): one withdrawal request per user at a time, so two
# concurrent requests cannot both fit under the daily limit. Namespaces: compliance/locks.py.
WITHDRAWAL_LIMIT_NAMESPACE = int(AdvisoryNamespace.WITHDRAWAL_LIMIT)
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


def four_eyes_threshold_eur() -> Decimal:
    """Above this EUR value a withdrawal waits for two officers (setting, a Decimal or string)."""
    return Decimal(
        str(getattr(settings, "WITHDRAWAL_FOUR_EYES_THRESHOLD_EUR", DEFAULT_FOUR_EYES_THRESHOLD_EUR))
    )


def withdrawal_used_today_eur(*, user: User) -> Decimal:
    """EUR value of the user's withdrawals in the last 24 hours, except rejected and failed ones."""
    used = (
        Withdrawal.objects.filter(user=user, created_at__gte=timezone.now() - LIMIT_WINDOW)
        .exclude(status__in=LIMIT_EXCLUDED_STATUSES)
        .aggregate(total=Sum("value_eur"))["total"]
    )
    return used if used is not None else Decimal(0)


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
    top: `quantity` is what the address receives. Every withdrawal needs a confirmed TOTP device
    and a current code. After commit the withdrawal is queued for processing.

    The destination must be in the user's address book and past its waiting period. An address
    not in the book is added to it (self-hosted, as the API cannot say otherwise) once the code
    is checked, and the request is refused with the time it becomes usable: Backpack's API has no
    address-book calls, so this is how an API client registers one (with a zero waiting period
    the same request goes on).

    Raises InvalidAsset (unknown asset, no token on the chain, withdrawals disabled), InvalidRequest
    (unsupported chain, implausible address, clientId too long, no EUR price, address in its
    waiting period or for another asset, a VASP entry without beneficiary, no proof of control of
    a self-hosted address above 1,000 EUR, incomplete travel-rule data), InvalidQuantity (not
    positive, finer than the asset's precision, below the minimum or above the maximum
    withdrawal, above the tier's daily EUR limit), Forbidden (the KYC tier or the country of
    residence does not allow withdrawals), InvalidRequest with code TWO_FACTOR_REQUIRED (no confirmed device) or
    INVALID_TWO_FACTOR_CODE (code missing, wrong, reused or throttled) and InsufficientFunds. On any
    of them nothing changes, except that a wrong two-factor code counts towards the throttle and
    an address new to the book stays in it.
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
    _check_tier(user)
    if not user_has_2fa(user):
        raise InvalidRequest(
            "Withdrawals need two-factor authentication: set up an authenticator app under "
            "Account > Security, then try again",
            code=TWO_FACTOR_REQUIRED,
        )
    total = quantity + token.withdrawal_fee
    # An early, unlocked look so an obvious shortfall does not use up the user's two-factor code;
    # the posting below re-checks under the row lock.
    available = _available_balance(user=user, asset=asset)
    if available < total:
        raise InsufficientFunds(
            f"Insufficient available {asset.symbol}: have {available.normalize():f}, "
            f"need {total.normalize():f} (including a fee of {token.withdrawal_fee.normalize():f})"
        )
    value_eur = asset_value_eur(asset=asset, quantity=quantity)
    if value_eur is None:
        raise InvalidRequest(f"{asset.symbol} has no EUR price yet: withdrawals of it cannot be checked")
    _check_daily_limit(user=user, value_eur=value_eur, used_eur=withdrawal_used_today_eur(user=user))
    entry = withdrawal_address_find(user=user, blockchain=token.blockchain, address=address)
    if entry is not None:
        _check_entry(entry=entry, asset=asset, value_eur=value_eur)
    # Outside the transaction: a wrong code's failure count must be committed, not rolled back with
    # the refusal, or the throttle would never engage.
    _check_two_factor(user=user, token=two_factor_token)
    if entry is None:
        with transaction.atomic(durable=True):
            entry = withdrawal_address_add(
                user=user,
                blockchain=token.blockchain,
                address=address,
                ownership=WalletOwnership.SELF_HOSTED,
                label="added by a withdrawal request",
            )
        _check_entry(entry=entry, asset=asset, value_eur=value_eur)
    with transaction.atomic(durable=True):
        # Under the per-user lock the limit is checked again: a concurrent request has committed.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [WITHDRAWAL_LIMIT_NAMESPACE, user.pk])
        _check_daily_limit(user=user, value_eur=value_eur, used_eur=withdrawal_used_today_eur(user=user))
        withdrawal = Withdrawal.objects.create(
            user=user,
            asset=asset,
            blockchain=token.blockchain,
            to_address=address,
            client_id=client_id,
            quantity=quantity,
            fee=token.withdrawal_fee,
            status=WithdrawalStatus.REQUESTED,
            value_eur=value_eur,
            address_entry=entry,
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
        travel_rule_record_create(withdrawal=withdrawal, entry=entry)
        withdrawal_id = withdrawal.pk
        # robust: the withdrawal is committed whatever the broker does; the sweep
        # (`manage.py process_withdrawals`) picks up any that were not queued.
        transaction.on_commit(lambda: _process_later(withdrawal_id), robust=True)
    return withdrawal


def _check_tier(user: User) -> None:
    # The one gate for KYC tier and jurisdiction (accounts.services.access).
    access_require(user=user, product=Product.WITHDRAW)


def _check_daily_limit(*, user: User, value_eur: Decimal, used_eur: Decimal) -> None:
    limit = tier_get(user.kyc_level).daily_withdrawal_limit_eur
    if limit is not None and used_eur + value_eur > limit:
        raise InvalidQuantity(
            f"Daily withdrawal limit exceeded: {limit:,.2f} EUR per 24 hours for your verification "
            f"level; {used_eur:,.2f} EUR used, this withdrawal is worth {value_eur:,.2f} EUR"
        )


def _check_entry(*, entry: WithdrawalAddress, asset: Asset, value_eur: Decimal) -> None:
    waiting = withdrawal_address_usable_message(entry, now=timezone.now())
    if waiting is not None:
        raise InvalidRequest(waiting)
    if entry.asset_id is not None and entry.asset_id != asset.pk:
        raise InvalidRequest(f"Address {entry.address} is in your address book for another asset")
    if entry.ownership == WalletOwnership.VASP and not (entry.vasp_name and entry.beneficiary_name):
        raise InvalidRequest("The address book entry needs the provider's and the beneficiary's name")
    if (
        entry.ownership == WalletOwnership.SELF_HOSTED
        and value_eur > SELF_HOSTED_PROOF_THRESHOLD_EUR
        and not entry.is_proven
    ):
        raise InvalidRequest(
            f"This withdrawal is worth {value_eur:,.2f} EUR: above 1,000 EUR to a self-hosted wallet "
            f"you must first prove you control {entry.address} (a Satoshi test: send the small "
            "amount we give you from that address to your deposit address)"
        )


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
        if withdrawal_needs_four_eyes(withdrawal) and withdrawal.second_approved_by_id is None:
            held = _move(
                withdrawal_id=withdrawal_id,
                sources=[WithdrawalStatus.REQUESTED],
                target=WithdrawalStatus.HELD,
            )
            audit_record(
                actor=None,
                action="withdrawal.hold",
                target=held,
                before={"status": WithdrawalStatus.REQUESTED},
                after={
                    "status": WithdrawalStatus.HELD,
                    "value_eur": held.value_eur,
                    "threshold_eur": four_eyes_threshold_eur(),
                },
            )
            return held
        return _move(
            withdrawal_id=withdrawal_id,
            sources=[WithdrawalStatus.REQUESTED],
            target=WithdrawalStatus.APPROVED,
        )


def withdrawal_needs_four_eyes(withdrawal: Withdrawal) -> bool:
    """Above the threshold, or of unknown value (a withdrawal from before valuation existed)."""
    return withdrawal.value_eur is None or withdrawal.value_eur > four_eyes_threshold_eur()


def _check_approver(*, officer: User, withdrawal: Withdrawal) -> None:
    if not officer.is_active or not officer.is_staff or not officer.has_perm(APPROVE_PERMISSION):
        raise Forbidden("Only compliance officers may approve or reject held withdrawals")
    if officer.pk == withdrawal.user_id:
        raise Forbidden("Nobody may approve or reject their own withdrawal")


def withdrawal_officer_approve(*, withdrawal_id: int, officer: User) -> Withdrawal:
    """One officer's approval of a held withdrawal: the first is recorded; the second, by another
    officer, sends it back to the pipeline (requested, approved by two), which re-runs the
    compliance gate and carries on. Each approval is audited.

    Raises NotFound, Forbidden (not an officer with exchange.approve_withdrawal, the requester,
    or the officer who gave the first approval), WithdrawalStateError (not held, or another
    officer's approval landed at the same time); nothing changes then.
    """
    withdrawal = _get(withdrawal_id)
    _check_approver(officer=officer, withdrawal=withdrawal)
    now = timezone.now()
    with transaction.atomic(durable=True):
        if withdrawal.first_approved_by_id is None:
            # Compare-and-set on the approval slot: two officers approving at once cannot both be
            # "first", which would let the second approval come from either of them.
            changed = Withdrawal.objects.filter(
                pk=withdrawal_id, status=WithdrawalStatus.HELD, first_approved_by__isnull=True
            ).update(first_approved_by=officer, first_approved_at=now, updated_at=now)
            step, after = "withdrawal.approve_first", {"first_approved_by": officer.pk}
        else:
            if withdrawal.first_approved_by_id == officer.pk:
                raise Forbidden("A second, different officer must give the second approval")
            changed = Withdrawal.objects.filter(
                pk=withdrawal_id,
                status=WithdrawalStatus.HELD,
                first_approved_by=withdrawal.first_approved_by_id,
                second_approved_by__isnull=True,
            ).update(
                second_approved_by=officer,
                second_approved_at=now,
                status=WithdrawalStatus.REQUESTED,
                updated_at=now,
            )
            step = "withdrawal.approve_second"
            after = {"second_approved_by": officer.pk, "status": WithdrawalStatus.REQUESTED}
        if changed != 1:
            current = _get(withdrawal_id)
            if current.status != WithdrawalStatus.HELD:
                raise _state_error(current, WithdrawalStatus.APPROVED)
            raise WithdrawalStateError(
                f"Withdrawal {withdrawal_id} was approved by another officer meanwhile: reload it",
                withdrawal=current,
            )
        updated = _get(withdrawal_id)
        audit_record(
            actor=officer,
            action=step,
            target=updated,
            before={"status": WithdrawalStatus.HELD, "first_approved_by": withdrawal.first_approved_by_id},
            after=after,
        )
        if updated.status == WithdrawalStatus.REQUESTED:
            transaction.on_commit(lambda: _process_later(withdrawal_id), robust=True)
        return updated


def withdrawal_officer_reject(*, withdrawal_id: int, officer: User, reason: str) -> Withdrawal:
    """An officer rejects a held withdrawal (or one not yet sent): funds go back, audited.

    Raises InvalidRequest (empty reason), NotFound, Forbidden (as withdrawal_officer_approve),
    WithdrawalAlreadyInState, WithdrawalStateError.
    """
    reason = reason.strip()
    if not reason:
        raise InvalidRequest("A rejection needs a reason")
    withdrawal = _get(withdrawal_id)
    _check_approver(officer=officer, withdrawal=withdrawal)
    return _release(
        withdrawal_id=withdrawal_id, target=WithdrawalStatus.REJECTED, reason=reason, actor=officer
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
    """requested/held/approved/signed -> rejected (a compliance decision of the pipeline; officers use
    withdrawal_officer_reject); releases quantity + fee to available, audited. Raises NotFound,
    WithdrawalAlreadyInState, WithdrawalStateError."""
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
            if status == WithdrawalStatus.HELD:
                return withdrawal  # waits for two officers (withdrawal_officer_approve)
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


def _release(
    *, withdrawal_id: int, target: WithdrawalStatus, reason: str, actor: User | None = None
) -> Withdrawal:
    with transaction.atomic(durable=True):
        before = _get(withdrawal_id).status
        withdrawal = _move(
            withdrawal_id=withdrawal_id,
            sources=RELEASABLE_STATUSES,
            target=target,
            reason=reason[:REASON_MAX_LENGTH],
        )
        if actor is not None or target == WithdrawalStatus.REJECTED:
            audit_record(
                actor=actor,
                action=f"withdrawal.{'reject' if target == WithdrawalStatus.REJECTED else 'fail'}",
                target=withdrawal,
                before={"status": before},
                after={"status": target, "reason": reason[:REASON_MAX_LENGTH]},
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
