"""Double-entry ledger.

Every balance change is a journal entry whose lines sum to zero per asset. Each ledger account keeps
its balance in the same transaction as its lines, so balances are derived state that
`check_ledger` can recompute. One `EXTERNAL` house account per asset stands for the world outside
the exchange: deposits move value from it, withdrawals back to it, so the sum over every account
of an asset is always zero and the funds held inside equal minus its balance.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from exchange.models.assets import Asset
from exchange.models.fields import amount_field


class AccountKind(models.TextChoices):
    # A user's buckets (owner set).
    AVAILABLE = "available", "Available"
    LOCKED = "locked", "Locked (open orders, pending withdrawals)"
    STAKED = "staked", "Staked"
    LENT = "lent", "Lent"
    BORROWED = "borrowed", "Borrowed (a debt: zero or negative)"
    # House accounts (no owner).
    EXTERNAL = "external", "External world (deposits in, withdrawals out)"
    FEES = "fees", "Fee income"
    INSURANCE = "insurance", "Insurance fund"
    INTEREST_POOL = "interest_pool", "Interest pool"
    CLEARING = "clearing", "Clearing"


USER_KINDS = frozenset(
    {AccountKind.AVAILABLE, AccountKind.LOCKED, AccountKind.STAKED, AccountKind.LENT, AccountKind.BORROWED}
)
# Kinds whose balance may go below zero: debts, and the world outside.
SIGNED_KINDS = frozenset({AccountKind.BORROWED, AccountKind.EXTERNAL, AccountKind.CLEARING})


class LedgerAccount(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_accounts",
    )
    kind = models.CharField(max_length=16, choices=AccountKind.choices)
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="ledger_accounts")
    balance = amount_field(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "kind", "asset"], name="ledger_account_unique", nulls_distinct=False
            ),
            # Backstop to the service check: no bucket that holds real funds can go negative.
            models.CheckConstraint(
                condition=models.Q(balance__gte=0) | models.Q(kind__in=sorted(SIGNED_KINDS)),
                name="ledger_account_non_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(owner__isnull=False, kind__in=sorted(USER_KINDS))
                | models.Q(owner__isnull=True) & ~models.Q(kind__in=sorted(USER_KINDS)),
                name="ledger_account_owner_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        who = (self.owner_id and f"user {self.owner_id}") or "house"
        return f"{who}:{self.kind}:{self.asset_id}"


class EntryKind(models.TextChoices):
    DEPOSIT = "deposit", "Deposit"
    WITHDRAWAL = "withdrawal", "Withdrawal"
    TRADE = "trade", "Trade settlement"
    FEE = "fee", "Fee"
    HOLD = "hold", "Hold (available to locked)"
    RELEASE = "release", "Release (locked to available)"
    TRANSFER = "transfer", "Transfer"
    ADJUSTMENT = "adjustment", "Adjustment"


# The foreign keys of journal entries and lines are checked per statement by triggers
# (db_constraint=False here; migration exchange/0006): the matching worker writes them in bulk.
class JournalEntry(models.Model):
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    # What caused it ("deposit:42", "fill:1337"); with `idempotency_key` a replayed command posts once.
    reference = models.CharField(max_length=128, blank=True)
    idempotency_key = models.CharField(max_length=128, unique=True, null=True, blank=True)
    memo = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_constraint=False,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "journal entries"

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.reference}"


class JournalLine(models.Model):
    entry = models.ForeignKey(
        JournalEntry, on_delete=models.PROTECT, db_constraint=False, related_name="lines"
    )
    # Indexed only through (account, id) below: each index on this table costs the matching worker
    # WAL on every line (six per fill), and nothing looks lines up by asset.
    account = models.ForeignKey(
        LedgerAccount, on_delete=models.PROTECT, db_constraint=False, related_name="lines", db_index=False
    )
    # Denormalised from the account so the per-asset zero-sum check is one GROUP BY.
    asset = models.ForeignKey(
        Asset, on_delete=models.PROTECT, db_constraint=False, related_name="+", db_index=False
    )
    amount = amount_field()

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=~models.Q(amount=0), name="journal_line_non_zero")]
        indexes = [models.Index(fields=["account", "id"])]

    def __str__(self) -> str:
        return f"{self.account} {self.amount}"
