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
    # From a blocked (listed) address: recorded but not credited until an officer releases it.
    HELD = "held", "Held for compliance review"


# What Backpack's API shows for each internal deposit status (a held deposit is still pending).
DEPOSIT_API_STATUS = {
    DepositStatus.PENDING: "pending",
    DepositStatus.CONFIRMED: "confirmed",
    DepositStatus.DECLINED: "declined",
    DepositStatus.HELD: "pending",
}


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
    # The compliance review of a held deposit: why it was held, who released or rejected it.
    review_reason = models.CharField(max_length=255, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        permissions = [("review_deposit", "Can release or reject deposits held for compliance review")]
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
    HELD = "held", "Held for four-eyes approval"
    APPROVED = "approved", "Approved by compliance checks"
    SIGNED = "signed", "Signed"
    BROADCAST = "broadcast", "Broadcast"
    CONFIRMED = "confirmed", "Confirmed on chain"
    REJECTED = "rejected", "Rejected (funds released)"
    FAILED = "failed", "Failed (funds released)"


# What Backpack's API shows for each internal status.
WITHDRAWAL_API_STATUS = {
    WithdrawalStatus.REQUESTED: "pending",
    WithdrawalStatus.HELD: "pending",
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
    # The EUR value at request time (exchange.services.valuation): what limits and thresholds use.
    value_eur = models.DecimalField(max_digits=38, decimal_places=2, null=True, blank=True)
    address_entry = models.ForeignKey(
        "WithdrawalAddress", null=True, blank=True, on_delete=models.PROTECT, related_name="withdrawals"
    )
    # Four-eyes approval above the threshold: two different officers, neither the requester.
    first_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    first_approved_at = models.DateTimeField(null=True, blank=True)
    second_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    second_approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("approve_withdrawal", "Can approve or reject withdrawals held for four-eyes approval")
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="withdrawal_positive"),
            models.CheckConstraint(condition=models.Q(fee__gte=0), name="withdrawal_fee_non_negative"),
            models.CheckConstraint(
                condition=~models.Q(first_approved_by=models.F("second_approved_by")),
                name="withdrawal_four_eyes_two_people",
            ),
        ]

    def __str__(self) -> str:
        return f"withdrawal #{self.pk} {self.quantity} {self.asset_id}"


class WalletOwnership(models.TextChoices):
    """Who holds the destination: the customer's own wallet, or another provider (a VASP/CASP)."""

    SELF_HOSTED = "self_hosted", "Self-hosted wallet"
    VASP = "vasp", "Another provider (VASP)"


class ProofMethod(models.TextChoices):
    """How the customer showed control of a self-hosted address (Regulation (EU) 2023/1113 Art. 14(5))."""

    SIGNED_MESSAGE = "signed_message", "Signed message"
    SATOSHI_TEST = "satoshi_test", "Satoshi test (micro-deposit from the address)"


class WithdrawalAddress(models.Model):
    """An address-book entry: withdrawals go only to entries past their waiting period.

    The waiting period (`usable_from`) gives the customer time to notice an address added by
    someone with their credentials. Ownership decides what the travel rule needs: the provider and
    beneficiary for a VASP, a proof of control above 1,000 EUR for a self-hosted wallet.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="withdrawal_addresses"
    )
    blockchain = models.CharField(max_length=32)
    address = models.CharField(max_length=128)
    # None: usable for every asset on the chain.
    asset = models.ForeignKey(Asset, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    label = models.CharField(max_length=64, blank=True)
    ownership = models.CharField(max_length=16, choices=WalletOwnership.choices)
    vasp_name = models.CharField(max_length=200, blank=True)
    vasp_lei = models.CharField(max_length=20, blank=True, help_text="The provider's LEI, if known.")
    beneficiary_name = models.CharField(max_length=300, blank=True)
    added_at = models.DateTimeField(default=timezone.now)
    usable_from = models.DateTimeField()
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    proof_method = models.CharField(max_length=16, choices=ProofMethod.choices, blank=True)
    # Satoshi test: the exact quantity of `proof_asset` the customer sends from the address.
    proof_asset = models.ForeignKey(Asset, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    proof_quantity = amount_field(null=True, blank=True)
    proof_verified_at = models.DateTimeField(null=True, blank=True)
    proof_evidence = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "withdrawal addresses"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "blockchain", "address"], name="withdrawal_address_unique_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label or self.address} ({self.blockchain}, {self.get_ownership_display()})"

    @property
    def is_proven(self) -> bool:
        return self.proof_verified_at is not None
