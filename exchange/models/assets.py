from __future__ import annotations

from decimal import Decimal

from django.db import models

from exchange.models.fields import amount_field


class Asset(models.Model):
    symbol = models.CharField(max_length=16, unique=True)
    display_name = models.CharField(max_length=64)
    # Ledger precision: every amount of this asset is a multiple of 10**-decimals.
    decimals = models.PositiveSmallIntegerField()
    coingecko_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["symbol"]

    def __str__(self) -> str:
        return self.symbol

    @property
    def step(self) -> Decimal:
        return Decimal(1).scaleb(-self.decimals)


class AssetToken(models.Model):
    """The asset on one chain: Backpack's `tokens[]` entry (deposit/withdraw switches, fees, limits)."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="tokens")
    blockchain = models.CharField(max_length=32)  # Backpack's name: Solana, Ethereum, Bitcoin...
    display_name = models.CharField(max_length=64)
    contract_address = models.CharField(max_length=128, blank=True)
    deposit_enabled = models.BooleanField(default=True)
    withdraw_enabled = models.BooleanField(default=True)
    minimum_deposit = amount_field()
    minimum_withdrawal = amount_field()
    maximum_withdrawal = amount_field(null=True, blank=True)
    withdrawal_fee = amount_field()
    native_decimals = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["asset__symbol", "blockchain"]
        constraints = [
            models.UniqueConstraint(fields=["asset", "blockchain"], name="asset_token_unique_chain"),
        ]

    def __str__(self) -> str:
        return f"{self.asset.symbol} on {self.blockchain}"
