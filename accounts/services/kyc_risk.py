"""The stored risk score of a customer: the pure rule (compliance.rules.risk) over the
jurisdiction table, the profile and 30 days of activity. Officers see the score and its reasons
on the case and profile pages; nobody else sees even the band."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Q, Sum
from django.utils import timezone

from accounts.jurisdictions import jurisdiction_rule
from accounts.models import KycProfile
from compliance.rules.risk import CountryRisk, RiskAssessment, RiskInputs, review_interval_years, risk_assess

ACTIVITY_DAYS = 30


def _country_risk(code: str) -> CountryRisk:
    rule = jurisdiction_rule(code)
    return CountryRisk(
        code=code,
        name=rule.name,
        is_blocked=not rule.onboarding_allowed,
        is_high_risk=rule.is_high_risk,
        is_eu_eea=rule.is_eu_eea,
    )


def _activity_eur(*, user_id: int, since: datetime) -> tuple[Decimal, Decimal, bool]:
    """30-day trading volume and confirmed deposits in EUR, and whether the customer traded
    derivatives. Amounts of assets with no price yet count as zero."""
    from exchange.models import Asset, Deposit, Fill
    from exchange.services.valuation import asset_value_eur

    mine = Q(maker_user_id=user_id) | Q(taker_user_id=user_id)
    fills = Fill.objects.filter(mine, created_at__gte=since)
    by_quote: dict[int, Decimal] = defaultdict(Decimal)
    for quote_id, total in fills.values_list("market__quote_id").annotate(total=Sum("quote_quantity")):
        by_quote[quote_id] += total or Decimal(0)
    uses_derivatives = fills.filter(market__market_type="PERP").exists()
    deposits = (
        Deposit.objects.filter(user_id=user_id, created_at__gte=since, status="confirmed")
        .values_list("asset_id")
        .annotate(total=Sum("quantity"))
    )
    assets = Asset.objects.in_bulk({*by_quote, *(asset_id for asset_id, _ in deposits)})

    def value(asset_id: int, quantity: Decimal) -> Decimal:
        return asset_value_eur(asset=assets[asset_id], quantity=quantity) or Decimal(0)

    volume = sum((value(a, q) for a, q in by_quote.items()), Decimal(0))
    deposited = sum((value(a, q or Decimal(0)) for a, q in deposits), Decimal(0))
    return volume, deposited, uses_derivatives


def kyc_risk_assess(*, profile: KycProfile) -> RiskAssessment:
    since = timezone.now() - timedelta(days=ACTIVITY_DAYS)
    volume, deposited, uses_derivatives = _activity_eur(user_id=profile.user_id, since=since)
    return risk_assess(
        RiskInputs(
            residence=_country_risk(profile.residence_country),
            nationality=_country_risk(profile.nationality),
            is_pep=profile.is_pep,
            uses_derivatives=uses_derivatives,
            volume_30d_eur=volume,
            deposits_30d_eur=deposited,
        )
    )


def kyc_risk_refresh(*, profile: KycProfile) -> RiskAssessment:
    """Recompute and store the score, band and reasons on the profile (joins the caller's
    transaction; the profile's row is the caller's to lock)."""
    assessment = kyc_risk_assess(profile=profile)
    profile.risk_score = assessment.score
    profile.risk_band = assessment.band
    profile.risk_reasons = list(assessment.reasons)
    profile.risk_scored_at = timezone.now()
    profile.save(update_fields=["risk_score", "risk_band", "risk_reasons", "risk_scored_at"])
    return assessment


def add_years(moment: datetime, years: int) -> datetime:
    """Same day and time `years` later; 29 February becomes 28 February."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


def next_review_from(*, profile: KycProfile, start: datetime) -> datetime:
    """When the next periodic review is due: 1 year for high risk or a PEP, 2 medium, 3 low."""
    return add_years(start, review_interval_years(band=profile.risk_band, is_pep=profile.is_pep))
