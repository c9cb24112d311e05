"""The customer risk score (compliance.rules.risk): points, band and the reasons officers read."""

from __future__ import annotations

from decimal import Decimal

import pytest

from compliance.rules.risk import CountryRisk, RiskInputs, review_interval_years, risk_assess

FRANCE = CountryRisk("FR", "France", is_eu_eea=True)
SWITZERLAND = CountryRisk("CH", "Switzerland")
NIGERIA = CountryRisk("NG", "Nigeria", is_high_risk=True)
IRAN = CountryRisk("IR", "Iran", is_blocked=True, is_high_risk=True)


def test_an_eu_resident_with_no_activity_is_low_risk_with_no_reason():
    assessment = risk_assess(RiskInputs(residence=FRANCE, nationality=FRANCE))
    assert (assessment.score, assessment.band, assessment.reasons) == (0, "low", ())


def test_each_factor_adds_its_points_and_names_itself_highest_first():
    assessment = risk_assess(
        RiskInputs(
            residence=SWITZERLAND,
            nationality=NIGERIA,
            uses_derivatives=True,
            volume_30d_eur=Decimal("100000"),
            deposits_30d_eur=Decimal("49999.99"),
        )
    )
    assert assessment.reasons == (
        "+25: National of Nigeria, on the EU list of high-risk third countries",
        "+15: Resident outside the EU/EEA (Switzerland)",
        "+10: Trades derivatives",
        "+10: 30-day trading volume at or above 100,000 EUR",
    )
    assert (assessment.score, assessment.band) == (60, "high")


@pytest.mark.parametrize(
    ("inputs", "band"),
    [
        (RiskInputs(residence=NIGERIA, nationality=FRANCE), "high"),
        (RiskInputs(residence=IRAN, nationality=IRAN), "high"),
        (RiskInputs(residence=FRANCE, nationality=FRANCE, is_pep=True), "high"),
        (RiskInputs(residence=SWITZERLAND, nationality=SWITZERLAND, uses_derivatives=True), "medium"),
        (RiskInputs(residence=FRANCE, nationality=FRANCE, deposits_30d_eur=Decimal("500000")), "medium"),
        (RiskInputs(residence=SWITZERLAND, nationality=SWITZERLAND), "low"),
    ],
)
def test_bands(inputs, band):
    assert risk_assess(inputs).band == band


def test_a_pep_or_high_risk_is_reviewed_yearly_low_every_three_years():
    assert review_interval_years(band="low", is_pep=True) == 1
    assert review_interval_years(band="high", is_pep=False) == 1
    assert review_interval_years(band="medium", is_pep=False) == 2
    assert review_interval_years(band="low", is_pep=False) == 3
