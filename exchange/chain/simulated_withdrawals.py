"""Outgoing transfers: address checks for each chain, and the simulated chain's `send`.

The address checks are pure (no Django) and strict about format and checksum where the format
has one, so a typo in a withdrawal address is refused before any funds are locked:

* Solana: base58 of exactly 32 bytes (an ed25519 public key or a program-derived address).
* Ethereum: `0x` and 20 bytes of hex. Mixed case is accepted without checking EIP-55: that
  checksum needs keccak-256, which the standard library does not have.
* Bitcoin (mainnet): native segwit (BIP-173 bech32 for version 0, BIP-350 bech32m for version
  1+, e.g. taproot) or legacy base58check P2PKH (`1...`) and P2SH (`3...`).

`SimulatedChain` here is the deposit-side `exchange.chain.simulated.SimulatedChain` plus `send`;
withdrawals use this one. The two live apart only so the deposit module stays untouched while both
are worked on; they can merge once nobody else edits that file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from exchange.chain import simulated
from exchange.chain.addresses import BASE58_ALPHABET, BECH32_CHARSET, _bech32_polymod, base58_encode

if TYPE_CHECKING:
    from exchange.models import Withdrawal

# BIP-350: the constant a bech32m checksum leaves in the polymod; bech32 (BIP-173) leaves 1.
BECH32_CONSTANT = 1
BECH32M_CONSTANT = 0x2BC830A3
BITCOIN_HRP = "bc"
BITCOIN_BASE58_VERSIONS = frozenset({0x00, 0x05})  # P2PKH, P2SH on mainnet
_ETHEREUM_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")
_BASE58_INDEX = {character: index for index, character in enumerate(BASE58_ALPHABET)}


class ChainRejected(Exception):
    """The chain refused the transfer for good (bad address, unsupported chain): it will never be
    mined, so the withdrawal fails and its funds are released. Not for transient errors."""


class WithdrawalSender(Protocol):
    """What the withdrawal pipeline needs from a chain integration."""

    def send(self, withdrawal: Withdrawal) -> str:
        """Broadcast the signed transfer; return its transaction hash. Raises ChainRejected."""
        ...

    def is_confirmed(self, withdrawal: Withdrawal) -> bool:
        """True once the broadcast transfer has enough confirmations to be final."""
        ...


# --- address checks (pure) --------------------------------------------------------------------


def base58_decode(text: str) -> bytes | None:
    """The bytes `text` encodes in Bitcoin's base58 alphabet, or None if it is not base58."""
    if not text:
        return None
    number = 0
    for character in text:
        index = _BASE58_INDEX.get(character)
        if index is None:
            return None
        number = number * 58 + index
    leading_zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * leading_zeros + body


def _solana_address_valid(address: str) -> bool:
    return 32 <= len(address) <= 44 and len(base58_decode(address) or b"") == 32


def _ethereum_address_valid(address: str) -> bool:
    return _ETHEREUM_ADDRESS_RE.fullmatch(address) is not None


def _from_five_bit_groups(groups: list[int]) -> bytes | None:
    """BIP-173 regrouping of 5-bit groups into bytes; None if the padding is not zero or too long."""
    accumulator, bits, result = 0, 0, bytearray()
    for group in groups:
        accumulator = (accumulator << 5) | group
        bits += 5
        if bits >= 8:
            bits -= 8
            result.append((accumulator >> bits) & 0xFF)
    if bits >= 5 or (accumulator << (8 - bits)) & 0xFF:
        return None
    return bytes(result)


def _segwit_address_valid(address: str) -> bool:
    if address.lower() != address and address.upper() != address:
        return False  # BIP-173: mixed case is invalid
    address = address.lower()
    hrp, separator, data_part = address.rpartition("1")
    if not separator or hrp != BITCOIN_HRP or not 14 <= len(address) <= 90 or len(data_part) < 7:
        return False
    if any(character not in BECH32_CHARSET for character in data_part):
        return False
    data = [BECH32_CHARSET.index(character) for character in data_part]
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    constant = _bech32_polymod(expanded + data)
    version, program = data[0], _from_five_bit_groups(data[1:-6])
    if program is None or version > 16 or not 2 <= len(program) <= 40:
        return False
    if version == 0:
        return constant == BECH32_CONSTANT and len(program) in {20, 32}
    return constant == BECH32M_CONSTANT


def _base58check_address_valid(address: str) -> bool:
    raw = base58_decode(address)
    if raw is None or len(raw) != 25 or raw[0] not in BITCOIN_BASE58_VERSIONS:
        return False
    payload, checksum = raw[:-4], raw[-4:]
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] == checksum


def _bitcoin_address_valid(address: str) -> bool:
    if address[:3].lower() == f"{BITCOIN_HRP}1":
        return _segwit_address_valid(address)
    return address[:1] in {"1", "3"} and _base58check_address_valid(address)


ADDRESS_CHECKS: dict[str, Callable[[str], bool]] = {
    "Bitcoin": _bitcoin_address_valid,
    "Ethereum": _ethereum_address_valid,
    "Solana": _solana_address_valid,
}


def address_is_plausible(*, blockchain: str, address: str) -> bool:
    """True if `address` has the format (and checksum, where there is one) of an address on
    `blockchain` (a canonical name, e.g. `Solana`). False for a chain with no known format."""
    check = ADDRESS_CHECKS.get(blockchain)
    return check is not None and bool(address) and address.isascii() and check(address)


# --- the simulated chain ----------------------------------------------------------------------


def simulated_withdrawal_hash(withdrawal: Withdrawal) -> str:
    """The transaction hash of the withdrawal's transfer, in the chain's format.

    Fixed by the withdrawal, as a real signed transaction's hash is fixed at signing: sending the
    same withdrawal twice (a redelivered task, two workers racing) is the same transaction, not a
    second payment, and both senders report the same hash.
    """
    digest = hashlib.sha512(
        ":".join(
            [
                "satchel-simulated-withdrawal",
                str(withdrawal.pk),
                withdrawal.blockchain,
                withdrawal.to_address,
                f"{withdrawal.quantity:f}",
            ]
        ).encode()
    ).digest()
    if withdrawal.blockchain == "Solana":
        return base58_encode(digest)  # a Solana transaction id is a 64-byte signature
    if withdrawal.blockchain == "Ethereum":
        return "0x" + digest[:32].hex()
    return digest[:32].hex()


class SimulatedChain(simulated.SimulatedChain):
    """The simulated chain with outgoing transfers: every send is mined and final at once.

    `refuse` lets a test or a drill make the chain reject chosen withdrawals (it returns a reason,
    or None to accept), to exercise the failure path.
    """

    def __init__(self, *, refuse: Callable[[Withdrawal], str | None] | None = None) -> None:
        self.refuse = refuse

    def send(self, withdrawal: Withdrawal) -> str:
        """Broadcast `withdrawal`'s transfer and return its transaction hash.

        Raises ChainRejected for a chain this adapter does not serve, an address that is not valid
        on the chain, or a refusal from `refuse`.
        """
        if withdrawal.blockchain not in self.blockchains:
            raise ChainRejected(f"Unsupported blockchain: {withdrawal.blockchain}")
        if not address_is_plausible(blockchain=withdrawal.blockchain, address=withdrawal.to_address):
            raise ChainRejected(f"Invalid {withdrawal.blockchain} address: {withdrawal.to_address}")
        reason = self.refuse(withdrawal) if self.refuse is not None else None
        if reason:
            raise ChainRejected(reason)
        return simulated_withdrawal_hash(withdrawal)

    def is_confirmed(self, withdrawal: Withdrawal) -> bool:
        """Everything this chain broadcasts is final at once."""
        return bool(withdrawal.transaction_hash)
