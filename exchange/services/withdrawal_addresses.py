"""The withdrawal address book: entries, their waiting period, and proof of control.

A withdrawal goes only to an entry of the customer's book that is past its waiting period
(`WITHDRAWAL_ADDRESS_WAITING_PERIOD`, a timedelta, default 24 hours): someone who has taken over
the credentials cannot empty the account into a new address before the customer notices.

Proof of control of a self-hosted address (Regulation (EU) 2023/1113 Art. 14(5), for transfers
above 1,000 EUR) is a Satoshi test: the customer sends the exact, odd quantity the exchange
chose from that address to their own deposit address; `deposit_credit` reports each deposit to
`withdrawal_address_proof_match`, which marks the entry proven when one matches.

Customers add entries themselves with `withdrawal_address_register` (a two-factor code, like a
withdrawal) and remove them with `withdrawal_address_remove`; both are audited.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from accounts.services.two_factor import INVALID_TWO_FACTOR_CODE, totp_device_verify, user_has_2fa
from compliance.rules.addresses import normalise_address
from compliance.services.audit import audit_record
from core.errors import InvalidAsset, InvalidRequest, NotFound
from exchange.models import (
    Asset,
    AssetToken,
    ProofMethod,
    WalletOwnership,
    Withdrawal,
    WithdrawalAddress,
    WithdrawalStatus,
)

DEFAULT_WAITING_PERIOD = timedelta(hours=24)
LABEL_MAX_LENGTH = WithdrawalAddress._meta.get_field("label").max_length or 64
NAME_MAX_LENGTH = WithdrawalAddress._meta.get_field("beneficiary_name").max_length or 300
VASP_MAX_LENGTH = WithdrawalAddress._meta.get_field("vasp_name").max_length or 200
# A Satoshi test quantity is the token's minimum deposit plus 1..SATOSHI_UNITS of the asset's step:
# unlikely to be sent by chance, and small.
SATOSHI_UNITS = 9999
# The same code as a withdrawal without an authenticator (exchange.services.withdrawals, which
# imports this module).
TWO_FACTOR_REQUIRED = "TWO_FACTOR_REQUIRED"
# Withdrawals whose funds have left or come back: an entry they used may be removed.
_FINISHED_STATUSES = (WithdrawalStatus.CONFIRMED, WithdrawalStatus.REJECTED, WithdrawalStatus.FAILED)
# ISO 17442: 18 alphanumerics and two check digits.
_LEI_RE = re.compile(r"[A-Z0-9]{18}[0-9]{2}")


def waiting_period() -> timedelta:
    period = getattr(settings, "WITHDRAWAL_ADDRESS_WAITING_PERIOD", DEFAULT_WAITING_PERIOD)
    return period if isinstance(period, timedelta) else timedelta(seconds=int(period))


def _canonical_chain(blockchain: str) -> str:
    name = (
        AssetToken.objects.filter(blockchain__iexact=blockchain.strip())
        .values_list("blockchain", flat=True)
        .first()
    )
    if name is None:
        raise InvalidRequest(f"Unsupported blockchain: {blockchain}")
    return name


def withdrawal_address_find(*, user: User, blockchain: str, address: str) -> WithdrawalAddress | None:
    """The user's entry for `address` on `blockchain` (EVM and bech32 compared case-insensitively)."""
    wanted = normalise_address(address, blockchain)
    for entry in WithdrawalAddress.objects.filter(user=user, blockchain__iexact=blockchain):
        if normalise_address(entry.address, entry.blockchain) == wanted:
            return entry
    return None


def _checked_entry(
    *,
    user: User,
    blockchain: str,
    address: str,
    ownership: str,
    label: str,
    beneficiary_name: str,
    vasp_name: str,
    vasp_lei: str = "",
) -> tuple[str, str, str, str, str]:
    """(chain, address, label, beneficiary name, provider name), trimmed and checked; raises
    InvalidRequest as `withdrawal_address_add` describes."""
    # Imported here: the chain package imports deposits, which imports this module.
    from exchange.chain.simulated_withdrawals import address_is_plausible

    chain = _canonical_chain(blockchain)
    address = address.strip()
    if not address_is_plausible(blockchain=chain, address=address):
        raise InvalidRequest(f"Invalid {chain} address: {address}")
    if ownership not in WalletOwnership.values:
        raise InvalidRequest(f"Ownership is one of {', '.join(WalletOwnership.values)}")
    label, beneficiary_name, vasp_name = label.strip(), beneficiary_name.strip(), vasp_name.strip()
    if (
        len(label) > LABEL_MAX_LENGTH
        or len(beneficiary_name) > NAME_MAX_LENGTH
        or len(vasp_name) > VASP_MAX_LENGTH
    ):
        raise InvalidRequest("Label, beneficiary or provider name is too long")
    if vasp_lei.strip() and not _LEI_RE.fullmatch(vasp_lei.strip().upper()):
        raise InvalidRequest("A provider's LEI is 20 letters and digits (ISO 17442), ending in two digits")
    if ownership == WalletOwnership.VASP and not (vasp_name and beneficiary_name):
        raise InvalidRequest("An address at another provider needs the provider's and the beneficiary's name")
    if withdrawal_address_find(user=user, blockchain=chain, address=address) is not None:
        raise InvalidRequest(f"{address} is already in the address book")
    return chain, address, label, beneficiary_name, vasp_name


def withdrawal_address_add(
    *,
    user: User,
    blockchain: str,
    address: str,
    ownership: str,
    label: str = "",
    beneficiary_name: str = "",
    vasp_name: str = "",
    vasp_lei: str = "",
    asset: Asset | None = None,
    added_by: User | None = None,
) -> WithdrawalAddress:
    """Add an entry, usable after the waiting period. A VASP entry names the provider and the
    beneficiary (the travel rule sends both). Joins the caller's transaction.

    Raises InvalidRequest (unsupported chain, implausible address, unknown ownership, a VASP entry
    without provider or beneficiary, overlong text, a malformed LEI, the address is already in the
    book).
    """
    chain, address, label, beneficiary_name, vasp_name = _checked_entry(
        user=user,
        blockchain=blockchain,
        address=address,
        ownership=ownership,
        label=label,
        beneficiary_name=beneficiary_name,
        vasp_name=vasp_name,
        vasp_lei=vasp_lei,
    )
    now = timezone.now()
    try:
        with transaction.atomic():
            entry = WithdrawalAddress.objects.create(
                user=user,
                blockchain=chain,
                address=address,
                asset=asset,
                label=label,
                ownership=ownership,
                beneficiary_name=beneficiary_name,
                vasp_name=vasp_name,
                vasp_lei=vasp_lei.strip().upper(),
                added_at=now,
                usable_from=now + waiting_period(),
                added_by=added_by or user,
            )
            audit_record(
                actor=added_by or user,
                action="withdrawal_address.add",
                target=entry,
                after={
                    "user_id": user.pk,
                    "blockchain": chain,
                    "address": address,
                    "ownership": ownership,
                    "vasp_name": vasp_name,
                    "usable_from": entry.usable_from,
                },
            )
    except IntegrityError:
        raise InvalidRequest(f"{address} is already in the address book") from None
    return entry


def withdrawal_address_usable_message(entry: WithdrawalAddress, *, now: datetime) -> str | None:
    """Why `entry` cannot be used yet, or None when it can."""
    if entry.usable_from <= now:
        return None
    return (
        f"Address {entry.address} was added to your address book on "
        f"{entry.added_at:%Y-%m-%d %H:%M} UTC; for your security it can be used from "
        f"{entry.usable_from:%Y-%m-%d %H:%M} UTC"
    )


def withdrawal_address_register(
    *,
    user: User,
    two_factor_token: str | None,
    blockchain: str,
    address: str,
    ownership: str,
    label: str = "",
    beneficiary_name: str = "",
    vasp_name: str = "",
    vasp_lei: str = "",
    asset_symbol: str = "",
) -> WithdrawalAddress:
    """The customer adds an entry to their own book (the wallet's address-book page): needs a
    confirmed authenticator and a current code, like a withdrawal, since an address added by
    someone holding only the password would be usable once its waiting period ends.

    The entry is checked before the code, so a typo does not use up the code; a wrong code's
    failure count is committed before the refusal (the throttle). `asset_symbol` restricts the
    entry to one asset ('' for every asset on the chain).

    Raises InvalidRequest (as `withdrawal_address_add`; code TWO_FACTOR_REQUIRED without a
    confirmed device, INVALID_TWO_FACTOR_CODE for a missing, wrong, reused or throttled code),
    InvalidAsset (the asset has no token on the chain). Nothing is added on any of them.
    """
    chain, address, _, _, _ = _checked_entry(
        user=user,
        blockchain=blockchain,
        address=address,
        ownership=ownership,
        label=label,
        beneficiary_name=beneficiary_name,
        vasp_name=vasp_name,
        vasp_lei=vasp_lei,
    )
    asset = None
    if asset_symbol.strip():
        token = (
            AssetToken.objects.select_related("asset")
            .filter(asset__symbol=asset_symbol.strip().upper(), blockchain=chain)
            .first()
        )
        if token is None:
            raise InvalidAsset(f"{asset_symbol.strip().upper()} is not sent on {chain}")
        asset = token.asset
    if not user_has_2fa(user):
        raise InvalidRequest(
            "Adding a withdrawal address needs two-factor authentication: set up an authenticator "
            "app under Account > Security, then try again",
            code=TWO_FACTOR_REQUIRED,
        )
    if not two_factor_token:
        raise InvalidRequest("Two-factor code required", code=INVALID_TWO_FACTOR_CODE)
    # Outside the transaction below: the failure count must survive the refusal.
    totp_device_verify(user=user, token=two_factor_token)
    with transaction.atomic(durable=True):
        return withdrawal_address_add(
            user=user,
            blockchain=chain,
            address=address,
            ownership=ownership,
            label=label,
            beneficiary_name=beneficiary_name,
            vasp_name=vasp_name,
            vasp_lei=vasp_lei,
            asset=asset,
        )


def withdrawal_address_remove(*, user: User, entry_id: int) -> None:
    """Remove one of the user's entries. Finished withdrawals to it keep their destination and
    travel-rule record but lose the link; the audit entry keeps the whole entry (ownership,
    provider, proof of control) and which withdrawals used it. Re-adding the address later starts
    a new waiting period.

    Raises NotFound (not the user's entry), InvalidRequest (a withdrawal to it is still in
    progress: an officer may be reviewing it with the entry). Nothing changes on either.
    """
    with transaction.atomic(durable=True):
        entry = (
            WithdrawalAddress.objects.select_for_update(no_key=True).filter(pk=entry_id, user=user).first()
        )
        if entry is None:
            raise NotFound(f"Address book entry {entry_id} not found")
        used = Withdrawal.objects.filter(address_entry=entry)
        in_progress = used.exclude(status__in=_FINISHED_STATUSES).values_list("pk", flat=True).first()
        if in_progress is not None:
            raise InvalidRequest(
                f"Withdrawal {in_progress} to {entry.address} is still in progress: remove the address "
                "once it has finished"
            )
        withdrawal_ids = sorted(used.values_list("pk", flat=True))
        audit_record(
            actor=user,
            action="withdrawal_address.remove",
            target=entry,
            before={
                "user_id": user.pk,
                "blockchain": entry.blockchain,
                "address": entry.address,
                "asset_id": entry.asset_id,
                "label": entry.label,
                "ownership": entry.ownership,
                "vasp_name": entry.vasp_name,
                "vasp_lei": entry.vasp_lei,
                "beneficiary_name": entry.beneficiary_name,
                "added_at": entry.added_at,
                "usable_from": entry.usable_from,
                "proof_method": entry.proof_method,
                "proof_quantity": entry.proof_quantity,
                "proof_verified_at": entry.proof_verified_at,
                "proof_evidence": entry.proof_evidence,
                "withdrawal_ids": withdrawal_ids,
            },
        )
        used.update(address_entry=None)
        entry.delete()


def withdrawal_address_proof_start(*, user: User, entry_id: int, asset_symbol: str) -> WithdrawalAddress:
    """Start (or restart) a Satoshi test for a self-hosted entry: choose the exact quantity of
    `asset_symbol` the customer must send from the address to their deposit address.

    Raises NotFound (not the user's entry), InvalidRequest (not self-hosted, already proven),
    InvalidAsset (the asset cannot be deposited on the entry's chain).
    """
    with transaction.atomic(durable=True):
        entry = (
            WithdrawalAddress.objects.select_for_update(no_key=True).filter(pk=entry_id, user=user).first()
        )
        if entry is None:
            raise NotFound(f"Address book entry {entry_id} not found")
        if entry.ownership != WalletOwnership.SELF_HOSTED:
            raise InvalidRequest("Proof of control is for self-hosted wallets")
        if entry.is_proven:
            raise InvalidRequest("Control of this address is already proven")
        token = (
            AssetToken.objects.select_related("asset")
            .filter(asset__symbol=asset_symbol, blockchain=entry.blockchain, deposit_enabled=True)
            .first()
        )
        if token is None:
            raise InvalidAsset(f"{asset_symbol} cannot be deposited on {entry.blockchain}")
        step = token.asset.step
        entry.proof_method = ProofMethod.SATOSHI_TEST
        entry.proof_asset = token.asset
        entry.proof_quantity = token.minimum_deposit + step * (1 + secrets.randbelow(SATOSHI_UNITS))
        entry.save(update_fields=["proof_method", "proof_asset", "proof_quantity"])
        return entry


def withdrawal_address_proof_match(
    *, user_id: int, asset: Asset, quantity: Decimal, from_address: str, blockchain: str, evidence: str
) -> WithdrawalAddress | None:
    """Mark proven the user's pending Satoshi test this deposit completes, if any (inside the
    deposit's transaction; the audit entry says which deposit proved it)."""
    if not from_address:
        return None
    wanted = normalise_address(from_address, blockchain)
    candidates = WithdrawalAddress.objects.select_for_update(no_key=True).filter(
        user_id=user_id,
        blockchain__iexact=blockchain,
        proof_method=ProofMethod.SATOSHI_TEST,
        proof_asset=asset,
        proof_quantity=quantity,
        proof_verified_at__isnull=True,
    )
    for entry in candidates:
        if normalise_address(entry.address, entry.blockchain) != wanted:
            continue
        entry.proof_verified_at = timezone.now()
        entry.proof_evidence = evidence[:255]
        entry.save(update_fields=["proof_verified_at", "proof_evidence"])
        audit_record(
            actor=None,
            action="withdrawal_address.proof",
            target=entry,
            after={"method": ProofMethod.SATOSHI_TEST, "evidence": evidence, "quantity": quantity},
        )
        return entry
    return None
