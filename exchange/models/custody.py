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


class WithdrawalStatus(models.TextChoices):
    """The pipeline; every move is a compare-and-set from the previous status."""

    REQUESTED = "requested", "Requested (funds locked)"
    APPROVED = "approved", "Approved by compliance checks"
    SIGNED = "signed", "Signed"
    BROADCAST = "broadcast", "Broadcast"
    CONFIRMED = "confirmed", "Confirmed on chain"
    REJECTED = "rejected", "Rejected (funds released)"
    FAILED = "failed", "Failed (funds released)"


# What Backpack's API shows for each internal status.
WITHDRAWAL_API_STATUS = {
    WithdrawalStatus.REQUESTED: "pending",
    WithdrawalStatus.APPROVED: "pending",
    WithdrawalStatus.SIGNED: "pending",
    WithdrawalStatus.BROADCAST: "pending",
    WithdrawalStatus.CONFIRMED: "confirmed",
    WithdrawalStatus.REJECTED: "declined",
    WithdrawalStatus.FAILED: "failed",
}


class Withdrawal(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="withdrawals")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="withdrawals")
    blockchain = models.CharField(max_length=32)
    to_address = models.CharField(max_length=128)
    # Backpack's clientId: ccxt sends the memo/tag here, as a string.
    client_id = models.CharField(max_length=128, blank=True)
    quantity = amount_field()
    fee = amount_field()
    status = models.CharField(
        max_length=16, choices=WithdrawalStatus.choices, default=WithdrawalStatus.REQUESTED
    )
    transaction_hash = models.CharField(max_length=128, null=True, blank=True)
    reason = models.CharField(max_length=255, blank=True)
    hold_entry = models.OneToOneField(
        JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    settle_entry = models.OneToOneField(
        JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="withdrawal_positive"),
            models.CheckConstraint(condition=models.Q(fee__gte=0), name="withdrawal_fee_non_negative"),
        ]

    def __str__(self) -> str:
        return f"withdrawal #{self.pk} {self.quantity} {self.asset_id}"
