"""The interface every chain integration implements, and the chain names shared by all of them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from core.errors import InvalidRequest


@runtime_checkable
class ChainAdapter(Protocol):
    """What the exchange needs from a chain integration.

    `blockchains` are Backpack's names (`Solana`, `Ethereum`, `Bitcoin`), the same strings as
    `AssetToken.blockchain`. A deposit address is stable: asking twice for the same user and chain
    gives the same address, so funds sent to an old one are never lost.
    """

    blockchains: frozenset[str]

    def deposit_address(self, *, user_id: int, blockchain: str) -> str: ...


def blockchain_canonical(name: str, supported: Iterable[str]) -> str:
    """`name` spelt as in `supported` (case-insensitive match); InvalidRequest if it is not there."""
    for candidate in supported:
        if candidate.lower() == name.strip().lower():
            return candidate
    raise InvalidRequest(f"Unsupported blockchain: {name}")


def deposit_source(blockchain: str) -> str:
    """Backpack's deposit `source` for a chain: its name in lower camel case (`Solana` -> `solana`,
    `BitcoinCash` -> `bitcoinCash`, `XRP` -> `xrp`). `deposit_credit` matches it to
    `AssetToken.blockchain` case-insensitively."""
    name = blockchain.replace(" ", "")
    if name.isupper():
        return name.lower()
    return name[:1].lower() + name[1:]
