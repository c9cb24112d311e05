"""Compliance records: watchlist entries, screening profiles, alerts, account freezes, the audit trail.

Everything here is written by `compliance/services/` only. Entries are never deleted: an entity
that leaves its list is marked delisted, so alerts keep the record they were raised on and the
history stays available for the five years AMLD Art. 40 / AMLR Art. 77 and MiCA Art. 68 ask for.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.utils import timezone


class EntrySchema(models.TextChoices):
    PERSON = "Person", "Person"
    ORGANIZATION = "Organization", "Organization"
    CRYPTO_WALLET = "CryptoWallet", "Crypto wallet"


class WatchlistEntry(models.Model):
    """One FollowTheMoney entity of a list source (`load_watchlist`), as screening uses it."""

    source = models.CharField(max_length=64, help_text="The list it came from, e.g. eu_fsf or sample.")
    entity_id = models.CharField(max_length=255)
    schema = models.CharField(max_length=16, choices=EntrySchema.choices)
    caption = models.CharField(max_length=512)
    names = models.JSONField(default=list, help_text="Caption first, then aliases: what is screened.")
    weak_aliases = models.JSONField(default=list, blank=True)
    birth_dates = models.JSONField(default=list, blank=True)
    countries = models.JSONField(default=list, blank=True)
    topics = models.JSONField(default=list, blank=True)
    addresses = models.JSONField(default=list, blank=True, help_text="Normalised wallet addresses.")
    currencies = models.JSONField(default=list, blank=True)
    datasets = models.JSONField(default=list, blank=True)
    # sha256 of the parsed entity: a reload updates (and re-screens) only entries that changed.
    fingerprint = models.CharField(max_length=64)
    first_seen_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    delisted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["source", "entity_id"]
        verbose_name_plural = "watchlist entries"
        constraints = [
            models.UniqueConstraint(fields=["source", "entity_id"], name="watchlist_entry_unique_per_source"),
        ]
        indexes = [
            models.Index(fields=["schema", "delisted_at"], name="watchlist_schema_active"),
            # jsonb containment (`addresses @> '["0x..."]'`) for address screening.
            GinIndex(
                fields=["addresses"], name="watchlist_addresses_gin", condition=Q(schema="CryptoWallet")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.caption} ({self.source}:{self.entity_id})"

    @property
    def is_active(self) -> bool:
        return self.delisted_at is None


class ScreeningProfile(models.Model):
    """The identity a user was last screened with, so that list updates can re-screen them."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="screening_profile"
    )
    full_name = models.CharField(max_length=300)
    birth_date = models.DateField(null=True, blank=True)
    screened_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.full_name} ({self.user})"


class AlertKind(models.TextChoices):
    SANCTIONS = "sanctions", "Sanctions"
    PEP = "pep", "Politically exposed person"
    WATCHLIST = "watchlist", "Other watchlist"
    ADDRESS = "address", "Blocked address"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    CONFIRMED = "confirmed", "Confirmed (true match)"
    DISMISSED = "dismissed", "Dismissed (false positive)"


class Alert(models.Model):
    """A screening hit for an officer to confirm (freezes the account) or dismiss."""

    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="compliance_alerts",
        help_text="Empty for an address screened without a known customer.",
    )
    kind = models.CharField(max_length=16, choices=AlertKind.choices)
    score = models.PositiveSmallIntegerField()
    entry = models.ForeignKey(WatchlistEntry, on_delete=models.PROTECT, related_name="alerts")
    # The entry as it was when the alert was raised: the evidence, whatever later loads change.
    entry_fingerprint = models.CharField(max_length=64)
    entry_snapshot = models.JSONField(default=dict)
    screened_name = models.CharField(max_length=300, blank=True)
    screened_birth_date = models.DateField(null=True, blank=True)
    address = models.CharField(max_length=128, blank=True)
    blockchain = models.CharField(max_length=32, blank=True)
    context = models.CharField(max_length=64, blank=True, help_text="What triggered the screening.")
    status = models.CharField(max_length=16, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    reasons = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("decide_alert", "Can confirm or dismiss compliance alerts")]
        constraints = [
            # Re-screening (a list reload, a repeated sign-up step) must not pile up copies of one
            # open alert; nulls_distinct=False covers address alerts without a subject.
            models.UniqueConstraint(
                fields=["subject", "entry", "kind"],
                condition=Q(status="open"),
                nulls_distinct=False,
                name="alert_one_open_per_subject_entry",
            ),
            models.CheckConstraint(condition=Q(score__lte=100), name="alert_score_at_most_100"),
        ]
        indexes = [models.Index(fields=["status", "kind"], name="alert_status_kind")]

    def __str__(self) -> str:
        return f"alert #{self.pk} {self.kind} {self.score} ({self.status})"


class ComplianceFlag(models.Model):
    """A user's compliance state: frozen accounts may not withdraw or trade (see withdrawal_gate)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="compliance_flag"
    )
    is_frozen = models.BooleanField(default=False)
    reason = models.TextField(blank=True)
    frozen_at = models.DateTimeField(null=True, blank=True)
    frozen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.user}: {'frozen' if self.is_frozen else 'not frozen'}"


GENESIS_HASH = "0" * 64


class AuditEntry(models.Model):
    """Append-only, hash-chained record of staff actions and sensitive service writes.

    `id` is the position in the chain, assigned by `audit_record` under a lock (no gaps);
    `hash` = sha256 of the canonical JSON of every other field, `previous_hash` included. A
    database trigger (migration 0002) refuses UPDATE and DELETE; `verify_audit_chain` recomputes.
    """

    id = models.BigIntegerField(primary_key=True)
    created_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty for the system (a command, a worker).",
    )
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.object_type}:{self.object_id}"


class TravelRuleRecord(models.Model):
    """The IVMS101 originator/beneficiary data of one outgoing transfer (Regulation (EU) 2023/1113
    Art. 14), built and validated at request time and kept with the withdrawal for five years
    (Art. 26). `payload` is what a transport (TRP, TRISA) or the manual export sends."""

    withdrawal = models.OneToOneField(
        "exchange.Withdrawal", on_delete=models.PROTECT, related_name="travel_rule_record"
    )
    beneficiary_ownership = models.CharField(max_length=16, help_text="self_hosted or vasp")
    beneficiary_vasp = models.CharField(max_length=200, blank=True)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"travel rule record for withdrawal #{self.withdrawal_id}"
