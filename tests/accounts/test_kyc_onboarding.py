"""Onboarding: personal data and residence (screening, jurisdiction, tier basic), documents (type by
content, per-user private storage, the FULL case), the pages and their errors."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import KycCase, KycDocument, KycLevel, KycProfile, User
from accounts.services.kyc import JurisdictionRefused, kyc_document_submit, kyc_personal_submit
from accounts.services.kyc_checks import KycFieldError
from compliance.models import Alert, AuditEntry, ScreeningProfile
from tests.accounts.kyc_helpers import JPEG, PDF, PNG, SAMPLE, personal, upload

pytestmark = pytest.mark.usefixtures("jurisdictions")


def today() -> date:
    return timezone.now().date()


def fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


def test_clean_personal_data_gives_tier_basic_with_an_audit_entry(bob):
    outcome = kyc_personal_submit(user=bob, **personal())
    bob = fresh(bob)
    assert (outcome.level, bob.kyc_level, bob.residence_country) == ("basic", "basic", "CH")
    assert outcome.alerts == []
    assert outcome.case is None
    profile = KycProfile.objects.get(user=bob)
    assert profile.tax_identification_number == "756.1234.5678.97"
    assert (profile.risk_band, profile.risk_reasons) == (
        "low",
        ["+15: Resident outside the EU/EEA (Switzerland)"],
    )
    # Low risk: the first periodic review is due in three years.
    assert profile.next_review_at.year == timezone.now().year + 3
    level = AuditEntry.objects.get(action="kyc.level_set", object_id=str(bob.pk))
    assert (level.actor_id, level.before, level.after["kyc_level"]) == (None, {"kyc_level": "none"}, "basic")
    assert AuditEntry.objects.filter(action="kyc.personal_submit", actor=bob).count() == 1


def test_a_transliterated_sanctioned_name_is_caught_at_submission(bob, sample_list):
    # The list has "Igor Valentinovich Zviagorskii" (and the Cyrillic); the customer types another
    # transliteration.
    outcome = kyc_personal_submit(
        user=bob, **personal(legal_name="Igor Swjagorski", birth_date=date(1968, 3, 14), nationality="RU")
    )
    bob = fresh(bob)
    assert bob.kyc_level == KycLevel.NONE
    (alert,) = outcome.alerts
    assert alert.subject_id == bob.pk
    assert alert.entry.entity_id == "satchel-sample-anchor-ru"
    case = KycCase.objects.get(user=bob)
    assert (case.kind, case.status, case.target_level) == ("screening", "pending", "basic")
    assert not AuditEntry.objects.filter(action="kyc.level_set").exists()


def test_a_customer_screened_clean_is_caught_when_the_list_is_updated(bob, tmp_path):
    kyc_personal_submit(user=bob, **personal(legal_name="Igor Zvyagorsky", birth_date=date(1968, 3, 14)))
    assert fresh(bob).kyc_level == "basic"
    assert not Alert.objects.exists()
    assert ScreeningProfile.objects.get(user=bob).full_name == "Igor Zvyagorsky"

    call_command("load_watchlist", str(SAMPLE), source="sample", verbosity=0)

    (alert,) = Alert.objects.filter(subject=bob)
    assert alert.entry.entity_id == "satchel-sample-anchor-ru"


def test_a_resident_of_a_blocked_country_cannot_onboard(bob):
    with pytest.raises(JurisdictionRefused, match="Satchel cannot accept residents of North Korea"):
        kyc_personal_submit(user=bob, **personal(residence_country="KP", tax_residence_country="KP"))
    bob = fresh(bob)
    assert (bob.kyc_level, bob.residence_country) == ("none", "")
    assert not KycProfile.objects.exists()
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"birth_date": today() + timedelta(days=1)}, "birth_date", "cannot be in the future"),
        ({"birth_date": today() - timedelta(days=365 * 17)}, "birth_date", "at least 18"),
        ({"nationality": "XX"}, "nationality", "Choose a country"),
        ({"residence_country": "EU"}, "residence_country", "Choose a country"),
        ({"legal_name": "   "}, "legal_name", "Enter your full legal name"),
        ({"tax_self_certified": False}, "tax_self_certified", "Confirm"),
    ],
)
def test_bad_personal_data_is_refused_naming_the_field_and_nothing_is_stored(bob, overrides, field, message):
    with pytest.raises(KycFieldError, match=message) as caught:
        kyc_personal_submit(user=bob, **personal(**overrides))
    assert caught.value.field == field
    assert fresh(bob).kyc_level == "none"
    assert not KycProfile.objects.exists()


# --- documents ------------------------------------------------------------------------------------------


def identity(user: User, content: bytes = PNG, **overrides: object) -> KycDocument:
    fields = {
        "kind": "identity",
        "document_type": "passport",
        "number": "X1234567",
        "issuing_country": "CH",
        "expiry_date": today() + timedelta(days=700),
        "file": upload(content),
        "size": len(content),
        **overrides,
    }
    return kyc_document_submit(user=user, **fields)  # type: ignore[arg-type]


def test_both_documents_open_one_full_case_and_are_stored_privately_per_user(bob):
    kyc_personal_submit(user=bob, **personal())
    passport = identity(bob)
    assert not KycCase.objects.exists()
    bill = kyc_document_submit(
        user=bob,
        kind="proof_of_address",
        document_type="utility_bill",
        file=upload(PDF, "bill.exe"),
        size=len(PDF),
    )
    identity(bob, JPEG)  # a second upload finds the open case

    case = KycCase.objects.get(user=bob)
    assert (case.kind, case.status, case.target_level) == ("full", "pending", "full")
    assert fresh(bob).kyc_level == "basic"  # until an officer approves
    assert (passport.content_type, bill.content_type) == ("image/png", "application/pdf")
    # Named by the checked type, not the uploader's name; under MEDIA_ROOT/kyc/<user id>/.
    assert bill.file.name.startswith(f"kyc/{bob.pk}/")
    assert bill.file.name.endswith(".pdf")
    assert (Path(settings.MEDIA_ROOT) / passport.file.name).read_bytes() == PNG
    assert AuditEntry.objects.filter(action="kyc.document_submit").count() == 3
    assert AuditEntry.objects.filter(action="kyc.case_open").count() == 1


@pytest.mark.parametrize(
    ("content", "overrides", "field", "message"),
    [
        (b"MZ\x90\x00 not an image", {}, "file", "Upload a PDF, PNG or JPEG file"),
        (b"<svg xmlns=...>", {}, "file", "Upload a PDF, PNG or JPEG file"),
        (PNG, {"expiry_date": today()}, "expiry_date", "expired"),
        (PNG, {"issuing_country": "ZZ"}, "issuing_country", "Choose a country"),
        (PNG, {"document_type": "utility_bill"}, "document_type", "Choose a document type"),
    ],
)
def test_bad_documents_are_refused_and_nothing_is_stored(bob, content, overrides, field, message):
    kyc_personal_submit(user=bob, **personal())
    with pytest.raises(KycFieldError, match=message) as caught:
        identity(bob, content, **overrides)
    assert caught.value.field == field
    assert not KycDocument.objects.exists()
    assert not (Path(settings.MEDIA_ROOT) / "kyc").exists()


def test_an_oversized_file_is_refused(bob, settings):
    settings.KYC_DOCUMENT_MAX_BYTES = 1024 * 1024
    kyc_personal_submit(user=bob, **personal())
    big = PNG + b"\x00" * (1024 * 1024)
    with pytest.raises(KycFieldError, match="larger than 1 MB"):
        identity(bob, big)
    assert not KycDocument.objects.exists()


def test_media_is_not_served_by_any_url(client, bob):
    kyc_personal_submit(user=bob, **personal())
    passport = identity(bob)
    client.force_login(bob)
    for prefix in ("/media/", "/"):
        assert client.get(prefix + passport.file.name).status_code == 404


# --- pages ----------------------------------------------------------------------------------------------


def test_home_shows_what_the_tier_allows_and_the_next_step(client, bob):
    client.force_login(bob)
    page = client.get(reverse("accounts:home")).content.decode()
    assert "Verification: Unverified" in page
    assert "You cannot deposit, trade or withdraw yet." in page
    assert reverse("accounts:kyc_personal") in page

    kyc_personal_submit(user=bob, **personal())
    page = client.get(reverse("accounts:home")).content.decode()
    assert "Verification: Basic" in page
    assert "You can deposit, trade spot markets." in page
    assert "Upload an identity document" in page
    assert "low" not in page.split("kyc-banner")[1]  # the risk band is for officers only


def test_the_personal_page_submits_and_shows_errors_next_to_fields(client, bob):
    client.force_login(bob)
    url = reverse("accounts:kyc_personal")
    data = {**personal(), "birth_date": (today() + timedelta(days=3)).isoformat(), "nationality": "CH"}
    page = client.post(url, data)
    assert page.status_code == 200
    assert "The date of birth cannot be in the future" in page.content.decode()
    assert fresh(bob).kyc_level == "none"

    page = client.post(url, {**data, "residence_country": "IR", "birth_date": "1990-01-01"})
    assert "Satchel cannot accept residents of Iran" in page.content.decode()
    assert fresh(bob).kyc_level == "none"

    response = client.post(url, {**data, "birth_date": "1990-01-01"})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:kyc")
    assert fresh(bob).kyc_level == "basic"


def test_the_documents_page_uploads_and_refuses_a_fake_image(client, bob):
    kyc_personal_submit(user=bob, **personal())
    client.force_login(bob)
    url = reverse("accounts:kyc_documents")
    fields = {
        "kind": "identity",
        "identity-document_type": "passport",
        "identity-number": "X1",
        "identity-issuing_country": "CH",
        "identity-expiry_date": (today() + timedelta(days=30)).isoformat(),
    }
    page = client.post(url, {**fields, "identity-file": upload(b"GIF89a...", "scan.png")})
    assert "Upload a PDF, PNG or JPEG file" in page.content.decode()
    assert not KycDocument.objects.exists()
    response = client.post(url, {**fields, "identity-file": upload(PNG)})
    assert response.status_code == 302
    assert KycDocument.objects.get().number == "X1"


def test_verification_pages_need_a_login(client, db):
    for name in ("accounts:kyc", "accounts:kyc_personal", "accounts:kyc_documents"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert "/login/" in response["Location"]
