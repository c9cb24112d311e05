"""Back office for custody: withdrawals (four-eyes approval of held ones) and the address books.

Read-only pages; the decisions are admin actions that call `withdrawal_officer_approve` and
`withdrawal_officer_reject`, which check `exchange.approve_withdrawal`, refuse the requester and
(for the second approval) the first approver, and write the audit trail. Imported by
exchange/admin.py, which registers these.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from compliance.admin import reason_step
from compliance.admin_site import customer_link
from core.admin import ReadOnlyAdminMixin
from core.errors import DomainError
from exchange.models import Withdrawal, WithdrawalAddress
from exchange.services.withdrawals import (
    APPROVE_PERMISSION,
    withdrawal_officer_approve,
    withdrawal_officer_reject,
)


def customer_column(user_id: int | None, label: object) -> str:
    url = customer_link(user_id)
    return format_html('<a href="{}">{}</a>', url, label) if url else str(label)


@admin.register(Withdrawal)
class WithdrawalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "created_at",
        "customer",
        "asset",
        "quantity",
        "value_eur",
        "blockchain",
        "to_address",
        "status",
        "first_approved_by",
        "second_approved_by",
    ]
    list_filter = ["status", "asset", "blockchain", "created_at"]
    search_fields = ["user__email", "to_address", "transaction_hash", "client_id"]
    date_hierarchy = "created_at"
    list_select_related = ["user", "asset", "first_approved_by", "second_approved_by"]
    readonly_fields = [f.name for f in Withdrawal._meta.fields]
    actions = ["approve_selected", "reject_selected"]

    @admin.display(description="customer", ordering="user__email")
    def customer(self, obj: Withdrawal) -> str:
        return customer_column(obj.user_id, obj.user)

    def has_approve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(APPROVE_PERMISSION)

    @admin.action(description="Approve selected held withdrawals (four-eyes)", permissions=["approve"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[Withdrawal]) -> None:
        self._decide(
            request, queryset, lambda w: withdrawal_officer_approve(withdrawal_id=w.pk, officer=request.user)
        )

    @admin.action(description="Reject selected withdrawals (funds go back)…", permissions=["approve"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[Withdrawal]) -> HttpResponse | None:
        reason, page = reason_step(
            self,
            request,
            queryset,
            action="reject_selected",
            title="Reject withdrawals",
            explanation="The funds go back to the customer's available balance. The reason is shown "
            "to the customer: keep it neutral (no mention of alerts or lists).",
        )
        if page is not None:
            return page
        self._decide(
            request,
            queryset,
            lambda w: withdrawal_officer_reject(
                withdrawal_id=w.pk, officer=request.user, reason=reason or ""
            ),
        )
        return None

    def _decide(self, request: HttpRequest, queryset: QuerySet[Withdrawal], decide: Any) -> None:
        done = 0
        for withdrawal in queryset.order_by("id"):
            try:
                decide(withdrawal)
            except DomainError as exc:
                self.message_user(request, f"#{withdrawal.pk}: {exc.message}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} withdrawal(s) decided.", messages.SUCCESS)


@admin.register(WithdrawalAddress)
class WithdrawalAddressAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "customer",
        "blockchain",
        "address",
        "label",
        "ownership",
        "vasp_name",
        "usable_from",
        "proof_verified_at",
    ]
    list_filter = ["ownership", "blockchain", ("proof_verified_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__email", "address", "label", "vasp_name", "beneficiary_name"]
    list_select_related = ["user"]
    readonly_fields = [f.name for f in WithdrawalAddress._meta.fields]

    @admin.display(description="customer", ordering="user__email")
    def customer(self, obj: WithdrawalAddress) -> str:
        return customer_column(obj.user_id, obj.user)
