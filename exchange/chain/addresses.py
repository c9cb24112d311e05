"""Chain-plausible addresses and transaction hashes for the simulated chain (pure: no Django).

Addresses are derived from (chain, user id) so the same user always gets the same address, and
they pass each chain's own format checks: a Solana address is the base58 form of 32 bytes, an
Ethereum address 20 bytes of hex, a Bitcoin address a native segwit (bech32, BIP-173) P2WPKH
address with a valid checksum. They are not backed by keys: nobody can spend from them.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable

from core.errors import InvalidRequest

BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
# Most Solana addresses are 44 characters; the rest (a small leading value) are 43 or fewer.
SOLANA_ADDRESS_LENGTH = 44


def base58_encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits = []
    while number:
        number, remainder = divmod(number, 58)
        digits.append(BASE58_ALPHABET[remainder])
    leading_zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * leading_zeros + "".join(reversed(digits))


def _bech32_polymod(values: list[int]) -> int:
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i, generator in enumerate(BECH32_GENERATOR):
            if (top >> i) & 1:
                checksum ^= generator
    return checksum


def _bech32_checksum(hrp: str, data: list[int]) -> list[int]:
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    polymod = _bech32_polymod(expanded + data + [0] * 6) ^ 1
    return [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]


def _to_five_bit_groups(data: bytes) -> list[int]:
    accumulator, bits, groups = 0, 0, []
    for byte in data:
        accumulator = (accumulator << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            groups.append((accumulator >> bits) & 31)
    if bits:
        groups.append((accumulator << (5 - bits)) & 31)
    return groups


def segwit_v0_address(program: bytes, hrp: str = "bc") -> str:
    """A witness version 0 address (`bc1q...`): BIP-173 bech32 of the 20- or 32-byte program."""
    data = [0, *_to_five_bit_groups(program)]
    return f"{hrp}1" + "".join(BECH32_CHARSET[d] for d in data + _bech32_checksum(hrp, data))


def _digest(*parts: object) -> bytes:
    return hashlib.sha256(":".join(["satchel-simulated-chain", *map(str, parts)]).encode()).digest()


def _solana_address(user_id: int) -> str:
    # Re-derive with a counter until the encoding has the common length: still one answer per user.
    counter = 0
    while len(address := base58_encode(_digest("Solana", user_id, counter))) != SOLANA_ADDRESS_LENGTH:
        counter += 1
    return address


def _ethereum_address(user_id: int) -> str:
    # All lower case: valid without an EIP-55 checksum, which would need keccak-256.
    return "0x" + _digest("Ethereum", user_id)[-20:].hex()


def _bitcoin_address(user_id: int) -> str:
    return segwit_v0_address(_digest("Bitcoin", user_id)[:20])


ADDRESS_FORMATS: dict[str, Callable[[int], str]] = {
    "Bitcoin": _bitcoin_address,
    "Ethereum": _ethereum_address,
    "Solana": _solana_address,
}
SIMULATED_BLOCKCHAINS = frozenset(ADDRESS_FORMATS)


def simulated_address(*, user_id: int, blockchain: str) -> str:
    """The deposit address of `user_id` on `blockchain` (a canonical name in SIMULATED_BLOCKCHAINS)."""
    try:
        derive = ADDRESS_FORMATS[blockchain]
    except KeyError:
        raise InvalidRequest(f"Unsupported blockchain: {blockchain}") from None
    return derive(user_id)


def simulated_transaction_hash(*, blockchain: str) -> str:
    """A fresh random transaction id in the chain's format (Solana: base58 signature of 64 bytes)."""
    if blockchain == "Solana":
        return base58_encode(secrets.token_bytes(64))
    if blockchain == "Ethereum":
        return "0x" + secrets.token_hex(32)
    return secrets.token_hex(32)
