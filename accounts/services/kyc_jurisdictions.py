"""Changes to the per-country rules (the admin's only writer of `Jurisdiction`)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.countries import BLOCKED, COUNTRIES, EU_EEA, EU_HIGH_RISK
from accounts.jurisdictions import jurisdiction_cache_clear
from accounts.models import Jurisdiction, User
from compliance.services.audit import audit_record

RULE_FIELDS = ("name", "onboarding_allowed", "derivatives_allowed", "is_eu_eea", "is_high_risk", "note")


def jurisdiction_save(*, jurisdiction: Jurisdiction, actor: User) -> Jurisdiction:
    """Store an edited (or new) country rule with an audit entry of what changed; this process
    sees it at once, others within accounts.jurisdictions.CACHE_SECONDS."""
    with transaction.atomic(durable=True):
        old = Jurisdiction.objects.select_for_update().filter(pk=jurisdiction.pk).first()
        before = {name: getattr(old, name) for name in RULE_FIELDS} if old is not None else None
        jurisdiction.updated_at = timezone.now()
        jurisdiction.save()
        audit_record(
            actor=actor,
            action="jurisdiction.save",
            target=jurisdiction,
            before=before,
            after={name: getattr(jurisdiction, name) for name in RULE_FIELDS},
        )
        transaction.on_commit(jurisdiction_cache_clear)
    return jurisdiction


def jurisdiction_seed_defaults() -> int:
    """Add the starting rule for every ISO country that has no row (what migration 0003 seeds;
    for a database emptied since, e.g. by a test flush). Existing rows are left as edited."""
    rows = [
        Jurisdiction(
            country=code,
            name=name,
            onboarding_allowed=code not in BLOCKED,
            derivatives_allowed=code not in EU_EEA and code not in BLOCKED,
            is_eu_eea=code in EU_EEA,
            is_high_risk=code in EU_HIGH_RISK,
        )
        for code, name in COUNTRIES.items()
    ]
    created = Jurisdiction.objects.bulk_create(rows, ignore_conflicts=True)
    transaction.on_commit(jurisdiction_cache_clear)
    return len(created)
