"""KYC fixtures: the seeded country rules, an officer (carol) and a support agent (sam)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_jurisdiction_cache():  # type: ignore[no-untyped-def]
    """The rules cache is per process: no test sees rules another test's database had."""
    from accounts.jurisdictions import jurisdiction_cache_clear

    jurisdiction_cache_clear()
    yield
    jurisdiction_cache_clear()


@pytest.fixture
def jurisdictions(db):  # type: ignore[no-untyped-def]
    """The seeded rules (again, if a transactional test flushed the migration's rows)."""
    from accounts.jurisdictions import jurisdiction_cache_clear
    from accounts.services.kyc_jurisdictions import jurisdiction_seed_defaults

    jurisdiction_seed_defaults()
    jurisdiction_cache_clear()


def _staff(email: str, codenames: list[str]):  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import Permission

    from accounts.models import User

    user = User.objects.create_user(email, f"{email}-password", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return User.objects.get(pk=user.pk)  # fresh: the permission cache is filled on first use


VIEW = ["view_kyccase", "view_kycprofile", "view_kycdocument"]


@pytest.fixture
def carol(db):  # type: ignore[no-untyped-def]
    """A compliance officer: may view and decide KYC cases and open documents."""
    return _staff("carol@example.com", [*VIEW, "review_kyc"])


@pytest.fixture
def sam(db):  # type: ignore[no-untyped-def]
    """A support agent: may look at cases, never decide them."""
    return _staff("sam@example.com", ["view_kyccase", "view_kycprofile"])


@pytest.fixture
def sample_list(db):  # type: ignore[no-untyped-def]
    """The generated sample sanctions/PEP list, loaded as source "sample"."""
    from compliance.services.watchlist import watchlist_load
    from tests.accounts.kyc_helpers import SAMPLE

    with SAMPLE.open(encoding="utf-8") as handle:
        return watchlist_load(source="sample", lines=handle)
