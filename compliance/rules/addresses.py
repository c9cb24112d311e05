"""Crypto addresses in one comparable form, whatever case or wrapping the source used.

- **EVM** (`0x` + 40 hex digits; Ethereum and every EVM chain): lower case. Mixed case is only the
  EIP-55 checksum, so `0xAbC...` and `0xabc...` are one account; the same key controls the same
  address on every EVM chain, so a listed Ethereum address is blocked on Polygon, BSC, Base too.
- **Bech32/bech32m** (BIP-173/350: `bc1...`, `tb1...`, `ltc1...`): lower case. The format is
  case-insensitive (a valid address is all upper or all lower case).
- **Bitcoin Cash CashAddr**: lower case, without the optional `bitcoincash:` prefix.
- **Base58** (Bitcoin legacy `1...`/`3...`, Solana, Tron, XRP...) and anything else: unchanged, as
  case is part of the address.

Surrounding whitespace is always removed. Matching is by normalised address alone, not by chain:
distinct chains' formats do not collide, and a blocked address is a blocked key wherever it shows up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")

_EVM = re.compile(r"^0x[0-9a-fA-F]{40}$")
_BECH32 = re.compile(r"^(bc|tb|bcrt|ltc|tltc)1[02-9ac-hj-np-z]{6,87}$", re.IGNORECASE)
_CASHADDR = re.compile(r"^(?:bitcoincash:)?([qp][02-9ac-hj-np-z]{41})$", re.IGNORECASE)


def address_format(address: str) -> str:
    """ "evm", "bech32", "cashaddr" or "other" for a stripped address."""
    if _EVM.match(address):
        return "evm"
    if _BECH32.match(address) and (address.islower() or address.isupper()):
        return "bech32"
    if _CASHADDR.match(address):
        return "cashaddr"
    return "other"


def normalise_address(address: str, blockchain: str | None = None) -> str:
    """The comparable form of `address`. `blockchain` is accepted for the callers' records; the
    address's own format decides the rule (see the module docstring)."""
    del blockchain
    address = address.strip()
    kind = address_format(address)
    if kind in {"evm", "bech32"}:
        return address.lower()
    if kind == "cashaddr":
        match = _CASHADDR.match(address)
        assert match is not None
        return match.group(1).lower()
    return address


class AddressBlocklist(Generic[T]):
    """Listed addresses in normalised form, each with what the caller attaches (an entry)."""

    def __init__(self, listed: Iterable[tuple[str, T]] = ()) -> None:
        self._listed: dict[str, T] = {}
        for address, value in listed:
            self.add(address, value)

    def add(self, address: str, value: T) -> None:
        self._listed.setdefault(normalise_address(address), value)

    def match(self, address: str, blockchain: str | None = None) -> T | None:
        """What `address` is listed with, or None; compared in normalised form."""
        return self._listed.get(normalise_address(address, blockchain))

    def __len__(self) -> int:
        return len(self._listed)
