"""Know your customer: what the customer declares, the documents they upload, and the one place a
KYC tier changes (`kyc_level_set`).

Flow (AMLD Art. 13 customer due diligence; tiers in accounts.kyc_tiers):
    personal data + residence  -> jurisdiction check, sanctions/PEP screening (compliance), risk
                                   clean: tier basic at once; a hit: a SCREENING case, no tier
    identity document + proof of address -> a FULL case; an officer approves it (kyc_review)
    enhanced                    -> an officer approves an ENHANCED case with source of funds/wealth

Locking: each submission takes the user's row lock first (`SELECT ... FOR NO KEY UPDATE`), so two
submissions of one customer, or a submission and an officer's decision, run one after the other;
the audit lock (compliance.services.audit) is always taken last.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import IO, Any

from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.jurisdictions import jurisdiction_rule
from accounts.kyc_tiers import ORDER
from accounts.models import (
    OPEN_CASE_STATUSES,
    DocumentKind,
    DocumentType,
    KycCase,
    KycCaseKind,
    KycCaseStatus,
    KycDocument,
    KycLevel,
    KycProfile,
    User,
)
from accounts.services.kyc_checks import (
    KycFieldError,
    check_birth_date,
    check_country,
    check_document_file,
    check_expiry,
    check_text,
)
from accounts.services.kyc_risk import kyc_risk_refresh, next_review_from
from compliance.models import Alert
from compliance.services.audit import audit_record
from compliance.services.screening import user_screen
from core.errors import Forbidden, InvalidRequest

IDENTITY_TYPES = frozenset({DocumentType.PASSPORT, DocumentType.ID_CARD, DocumentType.DRIVING_LICENCE})
ADDRESS_TYPES = frozenset({DocumentType.UTILITY_BILL, DocumentType.BANK_STATEMENT, DocumentType.TAX_NOTICE})


class JurisdictionRefused(Forbidden):
    """The declared residence is a country Satchel does not serve; `field` names the form field."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.field = "residence_country"


def level_rank(level: str) -> int:
    return ORDER.index(level) if level in ORDER else 0


def user_lock(user: User) -> User:
    return User.objects.select_for_update(no_key=True).get(pk=user.pk)


def profile_snapshot(profile: KycProfile | None) -> dict[str, Any] | None:
    """What the audit trail records of a profile (the declared data, not the risk internals)."""
    if profile is None:
        return None
    return {
        "legal_name": profile.legal_name,
        "birth_date": profile.birth_date,
        "nationality": profile.nationality,
        "residence_country": profile.residence_country,
        "address_line": profile.address_line,
        "city": profile.city,
        "postal_code": profile.postal_code,
        "tax_residence_country": profile.tax_residence_country,
        "tax_identification_number": profile.tax_identification_number,
    }


# --- the one writer of kyc_level ---------------------------------------------------------------------


def kyc_level_set(*, user: User, level: str, actor: User | None, reason: str) -> User:
    """Move `user` to `level` and record it (before/after, who, why); `actor` None for the system.

    Joins the caller's transaction. Compare-and-set on the level read from the row, so a
    concurrent change is not silently overwritten. Schedules the first periodic review when the
    customer becomes verified. Raises InvalidRequest for an unknown level or an empty reason.
    """
    if level not in KycLevel.values:
        raise InvalidRequest(f"Unknown KYC level {level!r}")
    if not reason.strip():
        raise InvalidRequest("A tier change needs a reason")
    with transaction.atomic(savepoint=False):
        before = User.objects.filter(pk=user.pk).values_list("kyc_level", flat=True).get()
        if before == level:
            user.kyc_level = level
            return user
        changed = User.objects.filter(pk=user.pk, kyc_level=before).update(kyc_level=level)
        if changed != 1:
            raise InvalidRequest("The customer's tier changed meanwhile; try again")
        profile = KycProfile.objects.filter(user_id=user.pk).first()
        if profile is not None and level != KycLevel.NONE and profile.next_review_at is None:
            profile.next_review_at = next_review_from(profile=profile, start=timezone.now())
            profile.save(update_fields=["next_review_at"])
        audit_record(
            actor=actor,
            action="kyc.level_set",
            target=user,
            before={"kyc_level": before},
            after={"kyc_level": level, "reason": reason},
        )
    user.kyc_level = level
    return user


# --- cases (opened here, decided in accounts.services.kyc_review) ---------------------------------------


def kyc_case_open(
    *, user: User, kind: str, target_level: str, reason: str, actor: User | None = None
) -> tuple[KycCase, bool]:
    """The open case of `kind` for `user`, opened now if there is none: (case, created).

    Joins the caller's transaction; the partial unique constraint makes a concurrent open find
    the winner's case instead of a second one.
    """
    existing = KycCase.objects.filter(user=user, kind=kind, status__in=OPEN_CASE_STATUSES).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            case = KycCase.objects.create(
                user=user, kind=kind, target_level=target_level, opened_reason=reason[:300]
            )
    except IntegrityError:
        return KycCase.objects.get(user=user, kind=kind, status__in=OPEN_CASE_STATUSES), False
    audit_record(
        actor=actor,
        action="kyc.case_open",
        target=case,
        after={"user": user.pk, "kind": kind, "target_level": target_level, "reason": reason},
    )
    return case, True


def _cases_resume(*, user: User) -> None:
    """The customer answered: every case waiting for them goes back to the officers' queue."""
    now = timezone.now()
    for case in KycCase.objects.filter(user=user, status=KycCaseStatus.INFO_REQUESTED):
        changed = KycCase.objects.filter(pk=case.pk, status=KycCaseStatus.INFO_REQUESTED).update(
            status=KycCaseStatus.PENDING, updated_at=now
        )
        if changed:
            audit_record(
                actor=user,
                action="kyc.case_resume",
                target=case,
                before={"status": KycCaseStatus.INFO_REQUESTED},
                after={"status": KycCaseStatus.PENDING},
            )


# --- personal data and residence ----------------------------------------------------------------------


@dataclass(frozen=True)
class PersonalOutcome:
    profile: KycProfile
    level: str
    alerts: list[Alert]
    case: KycCase | None


def kyc_personal_submit(
    *,
    user: User,
    legal_name: str,
    birth_date: date,
    nationality: str,
    residence_country: str,
    address_line: str,
    city: str,
    postal_code: str,
    tax_residence_country: str,
    tax_identification_number: str,
    tax_self_certified: bool,
) -> PersonalOutcome:
    """Store the customer's identity, residence and tax self-certification, screen the name and
    date of birth, and score the risk. Clean screening of an unverified customer gives tier basic;
    any hit opens a SCREENING case and leaves the tier as it is.

    Raises KycFieldError (InvalidRequest, naming the field) for bad input, JurisdictionRefused
    (Forbidden) for a residence in a country Satchel does not serve; nothing is stored then.
    """
    now = timezone.now()
    today = now.date()
    legal_name = check_text("legal_name", legal_name, max_length=200, label="full legal name")
    birth_date = check_birth_date(birth_date, today=today)
    nationality = check_country("nationality", nationality)
    residence_country = check_country("residence_country", residence_country)
    address_line = check_text("address_line", address_line, max_length=200, label="street address")
    city = check_text("city", city, max_length=100, label="city")
    postal_code = check_text("postal_code", postal_code, max_length=20, label="postal code")
    tax_residence_country = check_country("tax_residence_country", tax_residence_country)
    tax_identification_number = check_text(
        "tax_identification_number",
        tax_identification_number,
        max_length=40,
        label="tax identification number",
    )
    if not tax_self_certified:
        raise KycFieldError("tax_self_certified", "Confirm that your tax residence is declared truthfully")
    rule = jurisdiction_rule(residence_country)
    if not rule.onboarding_allowed:
        raise JurisdictionRefused(f"Satchel cannot accept residents of {rule.name}")

    with transaction.atomic(durable=True):
        user = user_lock(user)
        profile = KycProfile.objects.filter(user=user).first()
        before = profile_snapshot(profile)
        if profile is None:
            profile = KycProfile(user=user)
        profile.legal_name = legal_name
        profile.birth_date = birth_date
        profile.nationality = nationality
        profile.residence_country = residence_country
        profile.address_line = address_line
        profile.city = city
        profile.postal_code = postal_code
        profile.tax_residence_country = tax_residence_country
        profile.tax_identification_number = tax_identification_number
        profile.tax_self_certified_at = now
        profile.personal_submitted_at = now
        profile.save()
        User.objects.filter(pk=user.pk).update(residence_country=residence_country)
        user.residence_country = residence_country
        audit_record(
            actor=user,
            action="kyc.personal_submit",
            target=profile,
            before=before,
            after=profile_snapshot(profile),
        )
        alerts = user_screen(user=user, full_name=legal_name, birth_date=birth_date, context="kyc")
        kyc_risk_refresh(profile=profile)  # before the tier: the first review date follows the band
        case = None
        if alerts:
            case, _ = kyc_case_open(
                user=user,
                kind=KycCaseKind.SCREENING,
                target_level=KycLevel.BASIC if level_rank(user.kyc_level) < 1 else user.kyc_level,
                reason=f"{len(alerts)} screening hit(s) for the declared name and date of birth",
            )
        elif user.kyc_level == KycLevel.NONE:
            kyc_level_set(
                user=user,
                level=KycLevel.BASIC,
                actor=None,
                reason="Personal data and residence given; screening clean",
            )
        _cases_resume(user=user)
    return PersonalOutcome(profile=profile, level=user.kyc_level, alerts=alerts, case=case)


# --- documents ------------------------------------------------------------------------------------------


def kyc_document_submit(
    *,
    user: User,
    kind: str,
    document_type: str,
    file: IO[bytes],
    size: int,
    number: str = "",
    issuing_country: str = "",
    expiry_date: date | None = None,
) -> KycDocument:
    """Store an identity document or a proof of address under MEDIA_ROOT/kyc/<user id>/. Once the
    customer has both and is below tier full, a FULL case waits for an officer.

    Raises KycFieldError (InvalidRequest, naming the field): bad type for the kind, missing
    number/country/expiry for an identity document, expired document, a file that is not a
    PDF/PNG/JPEG by content or too large; InvalidRequest before personal data is given.
    Nothing is stored then.
    """
    today = timezone.now().date()
    if kind not in DocumentKind.values:
        raise KycFieldError("kind", "Unknown document kind")
    allowed = IDENTITY_TYPES if kind == DocumentKind.IDENTITY else ADDRESS_TYPES
    if document_type not in allowed:
        raise KycFieldError("document_type", "Choose a document type from the list")
    if kind == DocumentKind.IDENTITY:
        number = check_text("number", number, max_length=40, label="document number")
        issuing_country = check_country("issuing_country", issuing_country)
        if expiry_date is None:
            raise KycFieldError("expiry_date", "Enter the document's expiry date")
        check_expiry(expiry_date, today=today)
    else:
        number, issuing_country, expiry_date = "", "", None
    checked = check_document_file("file", file, size=size)
    if not KycProfile.objects.filter(user_id=user.pk).exists():
        raise InvalidRequest("Give your personal data and residence first")

    with transaction.atomic(durable=True):
        user = user_lock(user)
        document = KycDocument(
            user=user,
            kind=kind,
            document_type=document_type,
            number=number,
            issuing_country=issuing_country,
            expiry_date=expiry_date,
            content_type=checked.content_type,
            size=checked.size,
            sha256=checked.sha256,
        )
        # The stored name comes from the checked type, never from the uploader's file name.
        document.file.save(f"document{checked.extension}", File(file), save=False)
        try:
            document.save()
            audit_record(
                actor=user,
                action="kyc.document_submit",
                target=document,
                after={"kind": kind, "document_type": document_type, "sha256": checked.sha256},
            )
            has_both = {
                DocumentKind.IDENTITY,
                DocumentKind.PROOF_OF_ADDRESS,
            } <= set(KycDocument.objects.filter(user=user).values_list("kind", flat=True))
            if has_both and level_rank(user.kyc_level) < level_rank(KycLevel.FULL):
                kyc_case_open(
                    user=user,
                    kind=KycCaseKind.FULL,
                    target_level=KycLevel.FULL,
                    reason="Identity document and proof of address uploaded",
                )
            _cases_resume(user=user)
        except BaseException:
            document.file.delete(save=False)  # the row rolls back; leave no orphan file behind
            raise
    return document


def kyc_documents_current(*, user: User) -> dict[str, KycDocument | None]:
    """The latest document of each kind, for the customer's page and the officer's case page."""
    latest: dict[str, KycDocument | None] = dict.fromkeys(DocumentKind.values)
    for document in KycDocument.objects.filter(user=user).order_by("-uploaded_at", "-id"):
        if latest.get(document.kind) is None:
            latest[document.kind] = document
    return latest
