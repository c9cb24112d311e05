"""Deposit addresses: one per user and chain, derived on first request and kept."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from exchange.chain.addresses import SIMULATED_BLOCKCHAINS, simulated_address
from exchange.chain.base import blockchain_canonical
from exchange.models import DepositAddress


def deposit_address_get_or_create(*, user_id: int, blockchain: str) -> DepositAddress:
    """The user's deposit address on `blockchain` (any case: `solana` is `Solana`), created once.

    The address is a pure function of (user, chain), so a repeated or concurrent request returns
    the same row. Raises InvalidRequest for a blockchain with no address format.
    """
    name = blockchain_canonical(blockchain, SIMULATED_BLOCKCHAINS)
    existing = DepositAddress.objects.filter(user_id=user_id, blockchain=name).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return DepositAddress.objects.create(
                user_id=user_id, blockchain=name, address=simulated_address(user_id=user_id, blockchain=name)
            )
    except IntegrityError:
        # A concurrent request created it between our read and insert.
        return DepositAddress.objects.get(user_id=user_id, blockchain=name)
