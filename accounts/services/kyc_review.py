"""Officers' decisions on KYC cases, and the periodic re-review by risk.

Decisions need the `accounts.review_kyc` permission (the compliance officer group has it, the
support agent group does not) and are never about the officer's own account. A decision is a
compare-and-set from an open status, so two officers deciding one case cannot both win; the case,
the tier change and the audit entries commit together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import (
    OPEN_CASE_STATUSES,
    KycCase,
    KycCaseKind,
    KycCaseStatus,
    KycLevel,
    KycProfile,
    User,
)
from accounts.services.kyc import kyc_case_open, kyc_level_set, level_rank, user_lock
from accounts.services.kyc_risk import kyc_risk_refresh, next_review_from
from compliance.services.audit import audit_record
from compliance.services.screening import user_screen
from core.errors import DomainError, Forbidden, InvalidRequest

REVIEW_PERMISSION = "accounts.review_kyc"


class CaseStateError(DomainError):
    """The case was already decided (or is not in the status the action needs): nothing changed."""

    code = "PRECONDITION_FAILED"


def _check_officer(*, officer: User, case: KycCase) -> None:
    if not (officer.is_active and officer.is_staff and officer.has_perm(REVIEW_PERMISSION)):
        raise Forbidden("Only compliance officers may decide KYC cases")
    if case.user_id == officer.pk:
        raise Forbidden("An officer may not decide a case about their own account")


def _move(
    *, case: KycCase, officer: User, status: str, reason: str, action: str, **fields: object
) -> KycCase:
    """Compare-and-set the case from any open status to `status`, with its audit entry."""
    before = KycCase.objects.filter(pk=case.pk).values_list("status", flat=True).get()
    now = timezone.now()
    decided = {"decided_at": now, "decided_by": officer} if status not in OPEN_CASE_STATUSES else {}
    changed = KycCase.objects.filter(pk=case.pk, status__in=OPEN_CASE_STATUSES).update(
        status=status, updated_at=now, **decided, **fields
    )
    if changed != 1:
        raise CaseStateError(f"Case {case.pk} is {before}: it cannot become {status}")
    audit_record(
        actor=officer,
        action=action,
        target=case,
        before={"status": before},
        after={
            "status": status,
            "reason": reason,
            **{k: v for k, v in fields.items() if k != "decision_reason"},
        },
    )
    case.refresh_from_db()
    return case


def kyc_case_approve(
    *, case: KycCase, officer: User, reason: str = "", source_of_funds: str = "", source_of_wealth: str = ""
) -> KycCase:
    """Approve: the customer gets the case's target tier (never lowered), the next review is
    scheduled by risk. An ENHANCED case records the source of funds and of wealth (AMLD Art. 18a,
    20: enhanced due diligence), both required.

    Raises Forbidden (not an officer with accounts.review_kyc, or their own case), InvalidRequest
    (EDD without sources; a FULL case while a screening case is open), CaseStateError (decided).
    """
    _check_officer(officer=officer, case=case)
    source_of_funds, source_of_wealth = source_of_funds.strip(), source_of_wealth.strip()
    if case.kind == KycCaseKind.ENHANCED and not (source_of_funds and source_of_wealth):
        raise InvalidRequest("Enhanced due diligence needs the source of funds and the source of wealth")
    with transaction.atomic(durable=True):
        user = user_lock(case.user)
        if (
            case.kind != KycCaseKind.SCREENING
            and KycCase.objects.filter(
                user=user, kind=KycCaseKind.SCREENING, status__in=OPEN_CASE_STATUSES
            ).exists()
        ):
            raise InvalidRequest("Decide the customer's screening case first")
        reason = reason.strip() or "approved"
        case = _move(
            case=case,
            officer=officer,
            status=KycCaseStatus.APPROVED,
            reason=reason,
            action="kyc.case_approve",
            decision_reason=reason,
        )
        profile = KycProfile.objects.select_for_update(no_key=True).filter(user=user).first()
        if profile is not None and case.kind == KycCaseKind.ENHANCED:
            before = {
                "source_of_funds": profile.source_of_funds,
                "source_of_wealth": profile.source_of_wealth,
            }
            profile.source_of_funds, profile.source_of_wealth = source_of_funds, source_of_wealth
            profile.save(update_fields=["source_of_funds", "source_of_wealth"])
            audit_record(
                actor=officer,
                action="kyc.edd_record",
                target=profile,
                before=before,
                after={"source_of_funds": source_of_funds, "source_of_wealth": source_of_wealth},
            )
        if level_rank(case.target_level) > level_rank(user.kyc_level):
            kyc_level_set(
                user=user, level=case.target_level, actor=officer, reason=f"KYC case #{case.pk}: {reason}"
            )
        if profile is not None:
            kyc_risk_refresh(profile=profile)
            profile.next_review_at = next_review_from(profile=profile, start=timezone.now())
            profile.save(update_fields=["next_review_at"])
    return case


def kyc_case_reject(*, case: KycCase, officer: User, reason: str) -> KycCase:
    """Reject with a reason the customer sees; the tier does not change.

    Raises InvalidRequest (empty reason), Forbidden, CaseStateError; nothing changes then.
    """
    reason = reason.strip()
    if not reason:
        raise InvalidRequest("A rejection needs a reason")
    _check_officer(officer=officer, case=case)
    with transaction.atomic(durable=True):
        user_lock(case.user)
        return _move(
            case=case,
            officer=officer,
            status=KycCaseStatus.REJECTED,
            reason=reason,
            action="kyc.case_reject",
            decision_reason=reason,
        )


def kyc_case_request_info(*, case: KycCase, officer: User, message: str) -> KycCase:
    """Ask the customer for more: the message shows on their verification page, and the case
    waits for them (their next submission puts it back in the queue).

    Raises InvalidRequest (empty message), Forbidden, CaseStateError; nothing changes then.
    """
    message = message.strip()
    if not message:
        raise InvalidRequest("Say what the customer must provide")
    _check_officer(officer=officer, case=case)
    with transaction.atomic(durable=True):
        user_lock(case.user)
        return _move(
            case=case,
            officer=officer,
            status=KycCaseStatus.INFO_REQUESTED,
            reason=message,
            action="kyc.case_request_info",
            info_request=message,
        )


def kyc_enhanced_case_open(*, user: User, officer: User, reason: str) -> KycCase:
    """An officer starts enhanced due diligence (a PEP, a high-risk country, unusual activity).

    Raises Forbidden (not an officer, or their own account), InvalidRequest (empty reason, or the
    customer is not verified to tier full yet).
    """
    reason = reason.strip()
    if not reason:
        raise InvalidRequest("Say why enhanced due diligence is needed")
    if not (officer.is_active and officer.is_staff and officer.has_perm(REVIEW_PERMISSION)):
        raise Forbidden("Only compliance officers may open enhanced due diligence")
    if user.pk == officer.pk:
        raise Forbidden("An officer may not open a case about their own account")
    with transaction.atomic(durable=True):
        user = user_lock(user)
        if level_rank(user.kyc_level) < level_rank(KycLevel.FULL):
            raise InvalidRequest("Enhanced due diligence follows full verification")
        case, _ = kyc_case_open(
            user=user, kind=KycCaseKind.ENHANCED, target_level=KycLevel.ENHANCED, reason=reason, actor=officer
        )
    return case


def kyc_pep_set(*, user: User, is_pep: bool, officer: User, reason: str) -> KycProfile:
    """Record that the customer is (or no longer is) a politically exposed person; the risk score
    and the review date follow. Raises Forbidden, InvalidRequest (no reason or no profile)."""
    reason = reason.strip()
    if not reason:
        raise InvalidRequest("A PEP decision needs a reason")
    if not (officer.is_active and officer.is_staff and officer.has_perm(REVIEW_PERMISSION)):
        raise Forbidden("Only compliance officers may record PEP status")
    with transaction.atomic(durable=True):
        user_lock(user)
        profile = KycProfile.objects.select_for_update(no_key=True).filter(user=user).first()
        if profile is None:
            raise InvalidRequest("The customer has not given personal data yet")
        before = profile.is_pep
        profile.is_pep = is_pep
        profile.save(update_fields=["is_pep"])
        kyc_risk_refresh(profile=profile)
        profile.next_review_at = next_review_from(profile=profile, start=timezone.now())
        profile.save(update_fields=["next_review_at"])
        audit_record(
            actor=officer,
            action="kyc.pep_set",
            target=profile,
            before={"is_pep": before},
            after={"is_pep": is_pep, "reason": reason},
        )
    return profile


# --- periodic re-review -------------------------------------------------------------------------------


def kyc_reviews_due(*, now: datetime) -> QuerySet[KycProfile]:
    """Profiles of verified customers whose review date has passed and who have no open periodic case."""
    open_periodic = KycCase.objects.filter(kind=KycCaseKind.PERIODIC, status__in=OPEN_CASE_STATUSES)
    return (
        KycProfile.objects.filter(next_review_at__lte=now)
        .exclude(user__kyc_level=KycLevel.NONE)
        .exclude(user_id__in=open_periodic.values("user_id"))
        .order_by("next_review_at", "user_id")
    )


@dataclass(frozen=True)
class ReviewOpened:
    case: KycCase
    created: bool
    alerts: int


def kyc_periodic_review_open(*, profile: KycProfile) -> ReviewOpened:
    """Re-screen the customer against today's lists, re-score the risk and open a PERIODIC case
    (target: the tier they have). Idempotent: an open periodic case is found, not duplicated."""
    with transaction.atomic(durable=True):
        user = user_lock(profile.user)
        profile = KycProfile.objects.select_for_update(no_key=True).get(user=user)
        alerts = user_screen(
            user=user, full_name=profile.legal_name, birth_date=profile.birth_date, context="periodic"
        )
        assessment = kyc_risk_refresh(profile=profile)
        case, created = kyc_case_open(
            user=user,
            kind=KycCaseKind.PERIODIC,
            target_level=user.kyc_level,
            reason=f"Periodic review due ({assessment.band} risk, score {assessment.score})",
        )
    return ReviewOpened(case=case, created=created, alerts=len(alerts))
