"""Demo KYC data (seed_demo): the trader's profile, and an applicant whose documents wait for the
demo officer. Idempotent: a customer with a profile is left as they are."""

from __future__ import annotations

import io
from datetime import date, timedelta

from django.utils import timezone

from accounts.models import KycLevel, KycProfile, User
from accounts.services.kyc import kyc_document_submit, kyc_personal_submit
from accounts.services.kyc_jurisdictions import jurisdiction_seed_defaults
from accounts.services.users import user_create

DEMO_APPLICANT = ("applicant@satchel.demo", "verify-me-please-42")
# The smallest files that pass the upload checks (by magic bytes): a demo needs no real scan.
DEMO_PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)
DEMO_PDF = b"%PDF-1.4\n% Satchel demo proof of address\n%%EOF\n"


def _declare(user: User, *, legal_name: str, birth_date: date) -> None:
    kyc_personal_submit(
        user=user,
        legal_name=legal_name,
        birth_date=birth_date,
        nationality="CH",
        residence_country="CH",
        address_line="Demo Street 1",
        city="Zürich",
        postal_code="8001",
        tax_residence_country="CH",
        tax_identification_number="756.0000.0000.00",
        tax_self_certified=True,
    )


def kyc_demo_seed(*, trader: User) -> User:
    """Profiles for the demo trader and applicant; the applicant's FULL case waits for review.
    Returns the applicant."""
    jurisdiction_seed_defaults()
    if not KycProfile.objects.filter(user=trader).exists():
        _declare(trader, legal_name="Dana Demo-Trader", birth_date=date(1988, 5, 17))
    applicant = User.objects.filter(email=DEMO_APPLICANT[0]).first() or user_create(
        email=DEMO_APPLICANT[0], password=DEMO_APPLICANT[1], kyc_level=KycLevel.NONE
    )
    if not KycProfile.objects.filter(user=applicant).exists():
        _declare(applicant, legal_name="Alex Applicant", birth_date=date(1995, 9, 30))
        kyc_document_submit(
            user=applicant,
            kind="identity",
            document_type="passport",
            number="DEMO12345",
            issuing_country="CH",
            expiry_date=timezone.now().date() + timedelta(days=3 * 365),
            file=io.BytesIO(DEMO_PNG),
            size=len(DEMO_PNG),
        )
        kyc_document_submit(
            user=applicant,
            kind="proof_of_address",
            document_type="utility_bill",
            file=io.BytesIO(DEMO_PDF),
            size=len(DEMO_PDF),
        )
    return applicant
