"""Reads for the officers' back office: the work queues and the customer page.

Each section is read only for a viewer holding its view permission: a support agent sees a
customer's balances and transfers but no screening hits (tipping-off, AMLD Art. 39).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db.models import Q
from django.urls import NoReverseMatch, reverse

from accounts.models import User
from compliance.models import Alert, AlertStatus, AuditEntry, ComplianceFlag, ScreeningProfile
from exchange.models import (
    Deposit,
    DepositStatus,
    LedgerAccount,
    Order,
    Withdrawal,
    WithdrawalAddress,
    WithdrawalStatus,
)

CUSTOMER_VIEW_PERMISSION = "accounts.view_user"
SECTION_LIMIT = 50


@dataclass(frozen=True)
class Queue:
    label: str
    count: int
    url: str


def _changelist(app_label: str, model_name: str, query: dict[str, str]) -> str:
    try:
        base = reverse(f"admin:{app_label}_{model_name}_changelist")
    except NoReverseMatch:
        return ""
    return base + "?" + "&".join(f"{key}={value}" for key, value in query.items())


def staff_queues(*, viewer: User) -> list[Queue]:
    """The queues the viewer may see, with their counts and a link to the filtered list."""
    queues = []
    kyc_case = _model("accounts", "KycCase")
    if kyc_case is not None and viewer.has_perm("accounts.view_kyccase"):
        queues.append(
            Queue(
                "KYC cases to review",
                kyc_case.objects.filter(status="pending").count(),
                _changelist("accounts", "kyccase", {"status__exact": "pending"}),
            )
        )
    if viewer.has_perm("compliance.view_alert"):
        queues.append(
            Queue(
                "Open alerts",
                Alert.objects.filter(status=AlertStatus.OPEN).count(),
                _changelist("compliance", "alert", {"status__exact": AlertStatus.OPEN}),
            )
        )
    if viewer.has_perm("exchange.view_withdrawal"):
        queues.append(
            Queue(
                "Withdrawals awaiting approval",
                Withdrawal.objects.filter(status=WithdrawalStatus.HELD).count(),
                _changelist("exchange", "withdrawal", {"status__exact": WithdrawalStatus.HELD}),
            )
        )
    if viewer.has_perm("exchange.view_deposit"):
        queues.append(
            Queue(
                "Deposits held for review",
                Deposit.objects.filter(status=DepositStatus.HELD).count(),
                _changelist("exchange", "deposit", {"status__exact": DepositStatus.HELD}),
            )
        )
    return queues


def _model(app_label: str, model_name: str) -> Any:
    try:
        return apps.get_model(app_label, model_name)
    except LookupError:
        return None


@dataclass
class CustomerOverview:
    user: User
    kyc_profile: Any = None
    screening_profile: ScreeningProfile | None = None
    flag: ComplianceFlag | None = None
    kyc_cases: list[Any] = field(default_factory=list)
    alerts: list[Alert] | None = None  # None: not shown to this viewer
    balances: list[LedgerAccount] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    deposits: list[Deposit] = field(default_factory=list)
    withdrawals: list[Withdrawal] = field(default_factory=list)
    addresses: list[WithdrawalAddress] = field(default_factory=list)
    audit: list[AuditEntry] | None = None


def customer_overview(*, user_id: int, viewer: User) -> CustomerOverview | None:
    """Identity, risk, screening hits, balances, orders, transfers and audit history of one
    customer, each as far as `viewer` may see it; None for an unknown user."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return None
    overview = CustomerOverview(user=user)
    overview.kyc_profile = getattr(user, "kyc_profile", None) if _model("accounts", "KycProfile") else None
    overview.screening_profile = ScreeningProfile.objects.filter(user=user).first()
    overview.flag = ComplianceFlag.objects.filter(user=user).first()
    kyc_case = _model("accounts", "KycCase")
    if kyc_case is not None and viewer.has_perm("accounts.view_kyccase"):
        overview.kyc_cases = list(kyc_case.objects.filter(user=user).order_by("-id")[:SECTION_LIMIT])
    if viewer.has_perm("compliance.view_alert"):
        overview.alerts = list(
            Alert.objects.filter(subject=user).select_related("entry").order_by("-id")[:SECTION_LIMIT]
        )
    if viewer.has_perm("exchange.view_ledgeraccount"):
        overview.balances = list(
            LedgerAccount.objects.filter(owner=user)
            .exclude(balance=0)
            .select_related("asset")
            .order_by("asset__symbol", "kind")
        )
    if viewer.has_perm("exchange.view_order"):
        overview.orders = list(
            Order.objects.filter(user=user).select_related("market").order_by("-id")[:SECTION_LIMIT]
        )
    if viewer.has_perm("exchange.view_deposit"):
        overview.deposits = list(Deposit.objects.filter(user=user).select_related("asset")[:SECTION_LIMIT])
    if viewer.has_perm("exchange.view_withdrawal"):
        overview.withdrawals = list(
            Withdrawal.objects.filter(user=user).select_related("asset")[:SECTION_LIMIT]
        )
    if viewer.has_perm("exchange.view_withdrawaladdress"):
        overview.addresses = list(WithdrawalAddress.objects.filter(user=user)[:SECTION_LIMIT])
    if viewer.has_perm("compliance.view_auditentry"):
        withdrawal_ids = [str(pk) for pk in Withdrawal.objects.filter(user=user).values_list("pk", flat=True)]
        deposit_ids = [str(pk) for pk in Deposit.objects.filter(user=user).values_list("pk", flat=True)]
        overview.audit = list(
            AuditEntry.objects.filter(
                Q(object_type="accounts.user", object_id=str(user.pk))
                | Q(after__user_id=user.pk)
                | Q(after__subject_id=user.pk)
                | Q(object_type="exchange.withdrawal", object_id__in=withdrawal_ids)
                | Q(object_type="exchange.deposit", object_id__in=deposit_ids)
            )
            .select_related("actor")
            .order_by("-id")[:SECTION_LIMIT]
        )
    return overview
