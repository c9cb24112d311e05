"""Compliance fixtures: carol the compliance officer (CONVENTIONS.md's cast), the sample list."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "compliance" / "fixtures" / "sample_sanctions.ftm.jsonl"


@pytest.fixture
def carol(db):  # type: ignore[no-untyped-def]
    """A compliance officer: staff with the permission to decide alerts and to read the records."""
    from django.contrib.auth.models import Permission

    from accounts.models import User

    user = User.objects.create_user("carol@example.com", "carol-password-1", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="compliance",
            codename__in=["decide_alert", "view_alert", "view_complianceflag", "view_auditentry"],
        )
    )
    return User.objects.get(pk=user.pk)  # fresh: the permission cache is filled on first use


@pytest.fixture
def sample_list(db):  # type: ignore[no-untyped-def]
    """The generated sample list loaded as source "sample"; returns the load report."""
    from compliance.services.watchlist import watchlist_load

    with SAMPLE.open(encoding="utf-8") as handle:
        return watchlist_load(source="sample", lines=handle)
