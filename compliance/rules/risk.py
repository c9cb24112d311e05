"""The customer risk score (AMLD Art. 8 and 18: a risk-based approach to due diligence), pure.

Each factor adds points and a reason an officer can read; the sum gives the band. The weights
are the operator's policy, not law: what the law fixes is that high-risk third countries and
PEPs call for enhanced due diligence (AMLD Art. 18a, 20), hence each alone reaches HIGH.

    residence or nationality in a blocked country    HIGH  (should not be a customer at all)
    residence in an EU high-risk third country       HIGH  (EDD mandatory)
    nationality of an EU high-risk third country     +25
    residence outside the EU/EEA                     +15
    PEP                                              HIGH  (EDD mandatory)
    trades derivatives                               +10
    30-day trading volume  >= 100,000 EUR            +10;  >= 1,000,000 EUR  +25
    30-day deposits        >=  50,000 EUR            +10;  >=   500,000 EUR  +25

Bands: score < 25 LOW, < 50 MEDIUM, otherwise HIGH.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

LOW = "low"
MEDIUM = "medium"
HIGH = "high"

HIGH_SCORE = 50
MEDIUM_SCORE = 25

VOLUME_STEPS = ((Decimal("1000000"), 25), (Decimal("100000"), 10))
DEPOSIT_STEPS = ((Decimal("500000"), 25), (Decimal("50000"), 10))


@dataclass(frozen=True)
class CountryRisk:
    """What the jurisdiction table says about one country."""

    code: str
    name: str
    is_blocked: bool = False
    is_high_risk: bool = False
    is_eu_eea: bool = False


@dataclass(frozen=True)
class RiskInputs:
    residence: CountryRisk
    nationality: CountryRisk
    is_pep: bool = False
    uses_derivatives: bool = False
    volume_30d_eur: Decimal = Decimal(0)
    deposits_30d_eur: Decimal = Decimal(0)


@dataclass(frozen=True)
class RiskAssessment:
    score: int
    band: str
    reasons: tuple[str, ...]


def _stepped(amount: Decimal, steps: tuple[tuple[Decimal, int], ...]) -> tuple[int, Decimal] | None:
    for threshold, points in steps:
        if amount >= threshold:
            return points, threshold
    return None


def risk_assess(inputs: RiskInputs) -> RiskAssessment:
    """Score, band and the reasons (one per factor that added points), highest first."""
    factors: list[tuple[int, str]] = []
    residence, nationality = inputs.residence, inputs.nationality
    if residence.is_blocked:
        factors.append((HIGH_SCORE, f"Resident of {residence.name}, a blocked country"))
    elif residence.is_high_risk:
        factors.append(
            (HIGH_SCORE, f"Resident of {residence.name}, on the EU list of high-risk third countries")
        )
    elif not residence.is_eu_eea and residence.code:
        factors.append((15, f"Resident outside the EU/EEA ({residence.name})"))
    if nationality.code and nationality.code != residence.code:
        if nationality.is_blocked:
            factors.append((HIGH_SCORE, f"National of {nationality.name}, a blocked country"))
        elif nationality.is_high_risk:
            factors.append(
                (25, f"National of {nationality.name}, on the EU list of high-risk third countries")
            )
    if inputs.is_pep:
        factors.append((HIGH_SCORE, "Politically exposed person"))
    if inputs.uses_derivatives:
        factors.append((10, "Trades derivatives"))
    volume = _stepped(inputs.volume_30d_eur, VOLUME_STEPS)
    if volume is not None:
        factors.append((volume[0], f"30-day trading volume at or above {volume[1]:,} EUR"))
    deposits = _stepped(inputs.deposits_30d_eur, DEPOSIT_STEPS)
    if deposits is not None:
        factors.append((deposits[0], f"30-day deposits at or above {deposits[1]:,} EUR"))
    factors.sort(key=lambda factor: -factor[0])
    score = sum(points for points, _ in factors)
    band = HIGH if score >= HIGH_SCORE else MEDIUM if score >= MEDIUM_SCORE else LOW
    return RiskAssessment(
        score=score,
        band=band,
        reasons=tuple(f"+{points}: {reason}" for points, reason in factors),
    )


# Years until the next periodic review (the operator's policy):
# PEPs yearly whatever their score (AMLD Art. 20: enhanced ongoing monitoring).
REVIEW_YEARS = {HIGH: 1, MEDIUM: 2, LOW: 3}


def review_interval_years(*, band: str, is_pep: bool) -> int:
    return 1 if is_pep else REVIEW_YEARS[band]
