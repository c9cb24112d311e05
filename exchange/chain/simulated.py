"""A chain with no network: tests, the demo and staff drills report incoming transfers by hand."""

from __future__ import annotations

from decimal import Decimal

from core.errors import InvalidAsset, InvalidQuantity, InvalidRequest
from exchange.chain.addresses import SIMULATED_BLOCKCHAINS, simulated_transaction_hash
from exchange.chain.base import blockchain_canonical, deposit_source
from exchange.models import Asset, AssetToken, Deposit, DepositAddress
from exchange.services.deposit_addresses import deposit_address_get_or_create
from exchange.services.deposits import deposit_credit


class SimulatedChain:
    """A ChainAdapter for Bitcoin, Ethereum and Solana whose transfers are `simulate_incoming` calls."""

    blockchains: frozenset[str] = SIMULATED_BLOCKCHAINS

    def deposit_address(self, *, user_id: int, blockchain: str) -> str:
        """The user's stable deposit address on `blockchain`; InvalidRequest for another chain."""
        blockchain_canonical(blockchain, self.blockchains)
        return deposit_address_get_or_create(user_id=user_id, blockchain=blockchain).address

    def simulate_incoming(
        self,
        *,
        to_address: str,
        asset_symbol: str,
        blockchain: str,
        quantity: Decimal,
        transaction_hash: str | None = None,
        from_address: str = "",
    ) -> Deposit:
        """A confirmed transfer of `quantity` to `to_address`: credits its owner once per transaction.

        Without a `transaction_hash` a fresh one is made up, so each call is a new transfer; with
        one that was already credited, returns that deposit unchanged. `from_address` is the
        sender (a Satoshi test's proof comes from it). Raises InvalidRequest for an
        unsupported chain or an address that is not a deposit address on it, InvalidAsset for an
        asset with no enabled token on the chain, InvalidQuantity below the token's minimum
        deposit or finer than the asset's precision.
        """
        name = blockchain_canonical(blockchain, self.blockchains)
        address = DepositAddress.objects.filter(address=to_address, blockchain=name).first()
        if address is None:
            raise InvalidRequest(f"{to_address} is not a deposit address on {name}")
        token = (
            AssetToken.objects.select_related("asset")
            .filter(asset__symbol=asset_symbol, blockchain__iexact=name)
            .first()
        )
        if token is None:
            if not Asset.objects.filter(symbol=asset_symbol).exists():
                raise InvalidAsset(f"Unknown asset: {asset_symbol}")
            raise InvalidAsset(f"{asset_symbol} cannot be deposited on {name}")
        if not token.deposit_enabled:
            raise InvalidAsset(f"Deposits of {asset_symbol} on {name} are disabled")
        if quantity < token.minimum_deposit:
            raise InvalidQuantity(
                f"{asset_symbol} deposits on {name} start at {token.minimum_deposit.normalize():f}"
            )
        return deposit_credit(
            user_id=address.user_id,
            asset=token.asset,
            quantity=quantity,
            source=deposit_source(name),
            transaction_hash=transaction_hash or simulated_transaction_hash(blockchain=name),
            from_address=from_address,
            to_address=to_address,
        )
