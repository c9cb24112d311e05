"""Per-country rules as the gates read them: the `Jurisdiction` table behind a process cache.

The order path must not pay a query for this (docs/PERFORMANCE.md), so each process keeps the
whole table (about 250 small rows) and reloads it after CACHE_SECONDS. An admin edit goes through
`jurisdiction_save`, which clears this process's copy at once; other processes see it within
CACHE_SECONDS. A country without a row (or "" before residence is declared) is allowed
everything: the KYC tier still gates every product.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from accounts.countries import country_name

CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class JurisdictionRule:
    country: str
    name: str
    onboarding_allowed: bool = True
    derivatives_allowed: bool = True
    is_eu_eea: bool = False
    is_high_risk: bool = False


@dataclass
class _Cache:
    rules: dict[str, JurisdictionRule] | None = None
    loaded_at: float = 0.0


_cache = _Cache()
_lock = threading.Lock()


def _load() -> dict[str, JurisdictionRule]:
    from accounts.models import Jurisdiction

    return {
        row.country: JurisdictionRule(
            country=row.country,
            name=row.name,
            onboarding_allowed=row.onboarding_allowed,
            derivatives_allowed=row.derivatives_allowed,
            is_eu_eea=row.is_eu_eea,
            is_high_risk=row.is_high_risk,
        )
        for row in Jurisdiction.objects.all()
    }


def jurisdiction_rule(country: str) -> JurisdictionRule:
    """The rule for an ISO 3166-1 alpha-2 code; a permissive default for an unknown or empty one."""
    now = time.monotonic()
    rules = _cache.rules
    if rules is None or now - _cache.loaded_at > CACHE_SECONDS:
        with _lock:
            if _cache.rules is None or now - _cache.loaded_at > CACHE_SECONDS:
                _cache.rules = _load()
                _cache.loaded_at = now
            rules = _cache.rules
    rule = rules.get(country)
    if rule is None:
        return JurisdictionRule(country=country, name=country_name(country) if country else "your country")
    return rule


def jurisdiction_cache_clear() -> None:
    """Forget this process's copy (after an edit, and between tests)."""
    with _lock:
        _cache.rules = None
        _cache.loaded_at = 0.0
