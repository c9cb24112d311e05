"""The simulated chain: stable, chain-shaped deposit addresses and incoming transfers credited once."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import transaction

from core.errors import InvalidAsset, InvalidQuantity, InvalidRequest
from exchange.chain.addresses import base58_encode, segwit_v0_address
from exchange.chain.base import ChainAdapter, blockchain_canonical, deposit_source
from exchange.chain.simulated import SimulatedChain
from exchange.models import (
    AssetToken,
    Deposit,
    DepositAddress,
    DepositStatus,
    JournalEntry,
    JournalLine,
    LedgerAccount,
)
from exchange.selectors import balances_for_user
from exchange.services.deposit_addresses import deposit_address_get_or_create
from exchange.services.ledger_check import ledger_check

ADDRESS_FORMATS = {
    "Solana": re.compile(r"[1-9A-HJ-NP-Za-km-z]{44}"),
    "Ethereum": re.compile(r"0x[0-9a-f]{40}"),
    "Bitcoin": re.compile(r"bc1q[02-9ac-hj-np-z]{38}"),
}


@pytest.fixture
def chain() -> SimulatedChain:
    return SimulatedChain()


def snapshot() -> tuple[dict[int, Decimal], int, int, int]:
    return (
        dict(LedgerAccount.objects.values_list("pk", "balance")),
        JournalEntry.objects.count(),
        JournalLine.objects.count(),
        Deposit.objects.count(),
    )


def available(user, symbol: str) -> Decimal:
    return balances_for_user(user_id=user.pk).get(symbol, {}).get("available", Decimal(0))


def test_simulated_chain_is_a_chain_adapter(chain):
    assert isinstance(chain, ChainAdapter)
    assert chain.blockchains == frozenset({"Bitcoin", "Ethereum", "Solana"})


@pytest.mark.parametrize("blockchain", ["Solana", "Ethereum", "Bitcoin"])
def test_deposit_address_has_the_chain_format_and_is_stable(chain, alice, bob, blockchain):
    address = chain.deposit_address(user_id=alice.pk, blockchain=blockchain)

    assert ADDRESS_FORMATS[blockchain].fullmatch(address), address
    assert chain.deposit_address(user_id=alice.pk, blockchain=blockchain.lower()) == address
    assert chain.deposit_address(user_id=bob.pk, blockchain=blockchain) != address
    stored = DepositAddress.objects.get(user=alice, blockchain=blockchain)
    assert stored.address == address
    assert DepositAddress.objects.filter(user=alice).count() == 1


def test_a_user_has_a_different_address_on_each_chain(chain, alice):
    addresses = {name: chain.deposit_address(user_id=alice.pk, blockchain=name) for name in chain.blockchains}

    assert len(set(addresses.values())) == 3
    assert set(DepositAddress.objects.filter(user=alice).values_list("blockchain", "address")) == set(
        addresses.items()
    )


def test_deposit_address_service_returns_the_stored_row(alice):
    first = deposit_address_get_or_create(user_id=alice.pk, blockchain="ethereum")
    again = deposit_address_get_or_create(user_id=alice.pk, blockchain="Ethereum")

    assert again.pk == first.pk
    assert first.blockchain == "Ethereum"


def test_unsupported_blockchain_is_refused(chain, alice):
    with pytest.raises(InvalidRequest) as refused:
        chain.deposit_address(user_id=alice.pk, blockchain="Dogecoin")

    assert refused.value.code == "INVALID_CLIENT_REQUEST"
    assert not DepositAddress.objects.exists()


def test_incoming_transfer_credits_the_address_owner(chain, demo_markets, alice):
    address = chain.deposit_address(user_id=alice.pk, blockchain="Solana")

    deposit = chain.simulate_incoming(
        to_address=address, asset_symbol="USDC", blockchain="Solana", quantity=Decimal("125.5")
    )

    assert deposit.user_id == alice.pk
    assert deposit.source == "solana"
    assert deposit.status == DepositStatus.CONFIRMED
    assert deposit.quantity == Decimal("125.5")
    assert deposit.to_address == address
    assert re.fullmatch(r"[1-9A-HJ-NP-Za-km-z]{86,88}", deposit.transaction_hash)
    assert available(alice, "USDC") == Decimal("125.5")
    assert ledger_check().ok


@pytest.mark.parametrize(
    ("blockchain", "symbol", "source", "hash_format"),
    [
        ("Ethereum", "ETH", "ethereum", r"0x[0-9a-f]{64}"),
        ("Ethereum", "USDC", "ethereum", r"0x[0-9a-f]{64}"),
        ("Bitcoin", "BTC", "bitcoin", r"[0-9a-f]{64}"),
        ("Solana", "SOL", "solana", r"[1-9A-HJ-NP-Za-km-z]{86,88}"),
    ],
)
def test_every_chain_credits_with_its_lower_camel_source(
    chain, demo_markets, alice, blockchain, symbol, source, hash_format
):
    address = chain.deposit_address(user_id=alice.pk, blockchain=blockchain)

    deposit = chain.simulate_incoming(
        to_address=address, asset_symbol=symbol, blockchain=blockchain, quantity=Decimal("10")
    )

    assert deposit.source == source
    assert re.fullmatch(hash_format, deposit.transaction_hash)
    assert available(alice, symbol) == Decimal("10")


def test_same_transaction_reported_twice_credits_once(chain, demo_markets, alice):
    address = chain.deposit_address(user_id=alice.pk, blockchain="Bitcoin")
    first = chain.simulate_incoming(
        to_address=address,
        asset_symbol="BTC",
        blockchain="Bitcoin",
        quantity=Decimal("0.5"),
        transaction_hash="ab" * 32,
    )
    before = snapshot()

    again = chain.simulate_incoming(
        to_address=address,
        asset_symbol="BTC",
        blockchain="Bitcoin",
        quantity=Decimal("0.5"),
        transaction_hash="ab" * 32,
    )

    assert again.pk == first.pk
    assert snapshot() == before
    assert available(alice, "BTC") == Decimal("0.5")


def test_transfers_without_a_hash_are_distinct(chain, demo_markets, alice):
    address = chain.deposit_address(user_id=alice.pk, blockchain="Ethereum")

    for _ in range(2):
        chain.simulate_incoming(
            to_address=address, asset_symbol="ETH", blockchain="Ethereum", quantity=Decimal("1")
        )

    assert Deposit.objects.filter(user=alice).count() == 2
    assert available(alice, "ETH") == Decimal("2")


def refused(error: type[Exception], chain: SimulatedChain, **transfer: object) -> Exception:
    before = snapshot()
    with pytest.raises(error) as caught, transaction.atomic():
        chain.simulate_incoming(**transfer)  # type: ignore[arg-type]
    assert snapshot() == before
    return caught.value


def test_unknown_address_is_refused(chain, demo_markets, alice):
    chain.deposit_address(user_id=alice.pk, blockchain="Solana")

    error = refused(
        InvalidRequest,
        chain,
        to_address="So11111111111111111111111111111111111111112",
        asset_symbol="SOL",
        blockchain="Solana",
        quantity=Decimal("1"),
    )

    assert error.code == "INVALID_CLIENT_REQUEST"


def test_address_of_another_chain_is_refused(chain, demo_markets, alice):
    ethereum_address = chain.deposit_address(user_id=alice.pk, blockchain="Ethereum")

    refused(
        InvalidRequest,
        chain,
        to_address=ethereum_address,
        asset_symbol="USDC",
        blockchain="Solana",
        quantity=Decimal("10"),
    )


def test_below_the_minimum_deposit_is_refused(chain, demo_markets, alice):
    address = chain.deposit_address(user_id=alice.pk, blockchain="Ethereum")

    # USDC on Ethereum starts at 5; on Solana at 1.
    error = refused(
        InvalidQuantity,
        chain,
        to_address=address,
        asset_symbol="USDC",
        blockchain="Ethereum",
        quantity=Decimal("4.999999"),
    )

    assert error.code == "INVALID_QUANTITY"
    deposit = chain.simulate_incoming(
        to_address=address, asset_symbol="USDC", blockchain="Ethereum", quantity=Decimal("5")
    )
    assert deposit.quantity == Decimal("5")


def test_finer_than_the_asset_precision_is_refused(chain, demo_markets, alice):
    address = chain.deposit_address(user_id=alice.pk, blockchain="Ethereum")

    refused(
        InvalidQuantity,
        chain,
        to_address=address,
        asset_symbol="ETH",
        blockchain="Ethereum",
        quantity=Decimal("0.123456789"),
    )


def test_asset_without_a_token_on_the_chain_is_refused(chain, demo_markets, alice):
    address = chain.deposit_address(user_id=alice.pk, blockchain="Bitcoin")

    error = refused(
        InvalidAsset,
        chain,
        to_address=address,
        asset_symbol="USDC",
        blockchain="Bitcoin",
        quantity=Decimal("10"),
    )

    assert error.code == "INVALID_ASSET"
    refused(
        InvalidAsset,
        chain,
        to_address=address,
        asset_symbol="DOGE",
        blockchain="Bitcoin",
        quantity=Decimal("10"),
    )


def test_disabled_deposits_are_refused(chain, demo_markets, alice):
    AssetToken.objects.filter(asset__symbol="SOL", blockchain="Solana").update(deposit_enabled=False)
    address = chain.deposit_address(user_id=alice.pk, blockchain="Solana")

    refused(
        InvalidAsset,
        chain,
        to_address=address,
        asset_symbol="SOL",
        blockchain="Solana",
        quantity=Decimal("1"),
    )


def test_chain_names():
    assert blockchain_canonical(" SOLANA ", {"Solana", "Bitcoin"}) == "Solana"
    assert deposit_source("Solana") == "solana"
    assert deposit_source("BitcoinCash") == "bitcoinCash"
    assert deposit_source("XRP") == "xrp"
    with pytest.raises(InvalidRequest):
        blockchain_canonical("Sui", {"Solana"})


def test_address_encodings_match_published_vectors():
    # BIP-173's P2WPKH example and a well-known Solana key (the system program is 32 zero bytes).
    program = bytes.fromhex("751e76e8199196d454941c45d1b3a323f1433bd6")
    assert segwit_v0_address(program) == "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
    assert base58_encode(bytes(32)) == "1" * 32
    assert base58_encode(b"\0\x01") == "12"
