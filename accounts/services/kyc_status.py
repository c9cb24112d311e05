"""What the customer's own pages say about their verification: the tier, what it unlocks, the
next step, and any officer request. Never the risk band (AMLD Art. 39: no tipping-off)."""

from __future__ import annotations

from dataclasses import dataclass, field

from accounts.jurisdictions import jurisdiction_rule
from accounts.kyc_tiers import Product, tier_get
from accounts.models import (
    OPEN_CASE_STATUSES,
    DocumentKind,
    KycCase,
    KycCaseStatus,
    KycDocument,
    KycLevel,
    KycProfile,
    User,
)

PRODUCT_LABELS = {
    Product.DEPOSIT: "deposit",
    Product.TRADE_SPOT: "trade spot markets",
    Product.TRADE_DERIVATIVES: "trade perpetual futures",
    Product.WITHDRAW: "withdraw",
}


@dataclass(frozen=True)
class KycStatus:
    level: str
    label: str
    allowed: list[str]
    next_step: str
    next_url_name: str | None
    info_requests: list[str] = field(default_factory=list)
    pending_review: bool = False
    rejected_reason: str = ""
    has_profile: bool = False
    documents: frozenset[str] = frozenset()
    jurisdiction_note: str = ""


def kyc_status_get(*, user: User) -> KycStatus:
    tier = tier_get(user.kyc_level)
    rule = jurisdiction_rule(user.residence_country)
    allowed = [
        label
        for product, label in PRODUCT_LABELS.items()
        if product in tier.products and (product != Product.TRADE_DERIVATIVES or rule.derivatives_allowed)
    ]
    note = ""
    if not rule.onboarding_allowed:
        allowed, note = [], f"Satchel is not available to residents of {rule.name}."
    elif not rule.derivatives_allowed and user.residence_country:
        note = f"Perpetual futures are not available to residents of {rule.name}."
    has_profile = KycProfile.objects.filter(user_id=user.pk).exists()
    documents = frozenset(KycDocument.objects.filter(user_id=user.pk).values_list("kind", flat=True))
    cases = list(KycCase.objects.filter(user_id=user.pk).order_by("-created_at")[:10])
    open_cases = [case for case in cases if case.status in OPEN_CASE_STATUSES]
    info = [case.info_request for case in open_cases if case.status == KycCaseStatus.INFO_REQUESTED]
    pending = any(case.status == KycCaseStatus.PENDING for case in open_cases)
    latest_rejected = next((c for c in cases if c.status == KycCaseStatus.REJECTED), None)
    rejected = latest_rejected.decision_reason if latest_rejected and not open_cases else ""
    if info:
        step, url = "An officer asked for more information (below).", "accounts:kyc"
    elif pending:
        step, url = "Your verification is being reviewed; we will update this page.", None
    elif not has_profile:
        step, url = "Give your personal data and residence to deposit and trade.", "accounts:kyc_personal"
    elif user.kyc_level in (KycLevel.NONE, KycLevel.BASIC) and DocumentKind.IDENTITY not in documents:
        step, url = "Upload an identity document to unlock withdrawals.", "accounts:kyc_documents"
    elif user.kyc_level in (KycLevel.NONE, KycLevel.BASIC) and DocumentKind.PROOF_OF_ADDRESS not in documents:
        step, url = "Upload a proof of address to unlock withdrawals.", "accounts:kyc_documents"
    else:
        step, url = "Your account is verified.", None
    if not rule.onboarding_allowed:
        step, url = note, None
    return KycStatus(
        level=tier.level,
        label=tier.label,
        allowed=allowed,
        next_step=step,
        next_url_name=url,
        info_requests=info,
        pending_review=pending,
        rejected_reason=rejected,
        has_profile=has_profile,
        documents=documents,
        jurisdiction_note=note,
    )
