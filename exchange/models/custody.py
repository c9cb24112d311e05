from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from exchange.models.assets import Asset
from exchange.models.fields import amount_field
from exchange.models.ledger import JournalEntry


class DepositAddress(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="deposit_addresses"
    )
    blockchain = models.CharField(max_length=32)
    address = models.CharField(max_length=128, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "blockchain"], name="deposit_address_one_per_chain"),
        ]

    def __str__(self) -> str:
        return f"{self.blockchain}:{self.address}"


class DepositStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CONFIRMED = "confirmed", "Confirmed"
    DECLINED = "declined", "Declined"


class Deposit(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="deposits")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="deposits")
    quantity = amount_field()
    # Backpack's `source`: a chain in lower camel case (`solana`), or `administrator` for staff credits.
    source = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=DepositStatus.choices, default=DepositStatus.PENDING)
    transaction_hash = models.CharField(max_length=128, null=True, blank=True)
    from_address = models.CharField(max_length=128, blank=True)
    to_address = models.CharField(max_length=128, blank=True)
    entry = models.OneToOneField(
        JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    memo = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # A chain transaction is credited once, however often the adapter reports it.
            models.UniqueConstraint(fields=["source", "transaction_hash"], name="deposit_unique_tx"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="deposit_positive"),
        ]

    def __str__(self) -> str:
        return f"deposit #{self.pk} {self.quantity} {self.asset_id}"
