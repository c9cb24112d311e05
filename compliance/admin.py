"""Back office for compliance officers.

Every record here is written by services: the pages are read-only, and the decisions officers
make (confirm or dismiss an alert, unfreeze an account) are admin actions that call
`alert_confirm`, `alert_dismiss` and `account_unfreeze`, which check the officer's
`compliance.decide_alert` permission and write the audit trail. The audit trail itself can be
read, never added to, changed or deleted (the database refuses it too).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse

from compliance.models import (
    Alert,
    AuditEntry,
    ComplianceFlag,
    ScreeningProfile,
    TravelRuleRecord,
    WatchlistEntry,
)
from compliance.services.freezes import DECIDE_PERMISSION, account_unfreeze
from compliance.services.screening import alert_confirm, alert_dismiss
from core.admin import ReadOnlyAdminMixin
from core.errors import DomainError


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 80}), max_length=2000)


def reason_step(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    action: str,
    title: str,
    explanation: str,
) -> tuple[str | None, HttpResponse | None]:
    """The reason an officer typed on the intermediate page, or that page to show."""
    form = ReasonForm(request.POST if "apply" in request.POST else None)
    if form.is_valid():
        return form.cleaned_data["reason"], None
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": title,
        "explanation": explanation,
        "queryset": queryset,
        "form": form,
        "action": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return None, TemplateResponse(request, "admin/compliance/reason_form.html", context)


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "created_at",
        "kind",
        "score",
        "status",
        "subject",
        "screened_name",
        "address",
        "entry",
        "context",
        "decided_by",
    ]
    list_filter = ["status", "kind", "created_at", "entry__source"]
    search_fields = ["subject__email", "screened_name", "address", "entry__caption", "entry__entity_id"]
    date_hierarchy = "created_at"
    list_select_related = ["subject", "entry", "decided_by"]
    ordering = ["-created_at", "-id"]
    actions = ["confirm_selected", "dismiss_selected"]
    readonly_fields = [
        "subject",
        "kind",
        "score",
        "entry",
        "entry_fingerprint",
        "entry_snapshot",
        "screened_name",
        "screened_birth_date",
        "address",
        "blockchain",
        "context",
        "status",
        "reasons",
        "created_at",
        "decided_at",
        "decided_by",
        "decision_reason",
    ]

    def has_decide_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(DECIDE_PERMISSION)

    @admin.action(
        description="Confirm selected alerts (true match: freezes the account)", permissions=["decide"]
    )
    def confirm_selected(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        self._decide(request, queryset, lambda alert: alert_confirm(alert=alert, officer=request.user))

    @admin.action(description="Dismiss selected alerts (false positive)…", permissions=["decide"])
    def dismiss_selected(self, request: HttpRequest, queryset: QuerySet[Alert]) -> HttpResponse | None:
        reason, page = reason_step(
            self,
            request,
            queryset,
            action="dismiss_selected",
            title="Dismiss alerts as false positives",
            explanation="The reason is kept on each alert and in the audit trail.",
        )
        if page is not None:
            return page
        self._decide(
            request, queryset, lambda alert: alert_dismiss(alert=alert, officer=request.user, reason=reason)
        )
        return None

    def _decide(self, request: HttpRequest, queryset: QuerySet[Alert], decide: Any) -> None:
        done, refused = 0, []
        for alert in queryset.order_by("id"):
            try:
                decide(alert)
            except DomainError as exc:
                refused.append(f"#{alert.pk}: {exc.message}")
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} alert(s) decided.", messages.SUCCESS)
        for refusal in refused:
            self.message_user(request, refusal, messages.ERROR)


@admin.register(WatchlistEntry)
class WatchlistEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "caption",
        "schema",
        "source",
        "entity_id",
        "topics",
        "birth_dates",
        "updated_at",
        "delisted_at",
    ]
    list_filter = ["source", "schema", ("delisted_at", admin.EmptyFieldListFilter)]
    search_fields = ["caption", "entity_id", "names", "addresses"]
    readonly_fields = [f.name for f in WatchlistEntry._meta.fields]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "created_at", "actor", "action", "object_type", "object_id", "short_hash"]
    list_filter = ["action", "object_type", ("actor", admin.RelatedOnlyFieldListFilter), "created_at"]
    search_fields = ["action", "object_type", "object_id", "hash", "actor__email"]
    date_hierarchy = "created_at"
    list_select_related = ["actor"]
    readonly_fields = [f.name for f in AuditEntry._meta.fields]
    ordering = ["-id"]

    @admin.display(description="hash")
    def short_hash(self, obj: AuditEntry) -> str:
        return f"{obj.hash[:16]}…"


@admin.register(ComplianceFlag)
class ComplianceFlagAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["user", "is_frozen", "reason", "frozen_at", "frozen_by", "alert", "updated_at"]
    list_filter = ["is_frozen"]
    search_fields = ["user__email", "reason"]
    list_select_related = ["user", "frozen_by", "alert"]
    readonly_fields = [f.name for f in ComplianceFlag._meta.fields]
    actions = ["unfreeze_selected"]

    def has_decide_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(DECIDE_PERMISSION)

    @admin.action(description="Unfreeze selected accounts…", permissions=["decide"])
    def unfreeze_selected(
        self, request: HttpRequest, queryset: QuerySet[ComplianceFlag]
    ) -> HttpResponse | None:
        reason, page = reason_step(
            self,
            request,
            queryset,
            action="unfreeze_selected",
            title="Unfreeze accounts",
            explanation="The reason is kept on the flag and in the audit trail.",
        )
        if page is not None:
            return page
        done = 0
        for flag in queryset.select_related("user").order_by("id"):
            try:
                account_unfreeze(user=flag.user, officer=request.user, reason=reason)
            except DomainError as exc:
                self.message_user(request, f"{flag.user}: {exc.message}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} account(s) unfrozen.", messages.SUCCESS)
        return None


@admin.register(ScreeningProfile)
class ScreeningProfileAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["user", "full_name", "birth_date", "screened_at"]
    search_fields = ["user__email", "full_name"]
    list_select_related = ["user"]
    readonly_fields = [f.name for f in ScreeningProfile._meta.fields]


@admin.register(TravelRuleRecord)
class TravelRuleRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """IVMS101 records of outgoing transfers; exported as JSON for a counterparty or the authority."""

    list_display = ["id", "withdrawal", "beneficiary_ownership", "beneficiary_vasp", "created_at"]
    list_filter = ["beneficiary_ownership", "created_at"]
    search_fields = ["withdrawal__user__email", "withdrawal__to_address", "beneficiary_vasp"]
    list_select_related = ["withdrawal"]
    readonly_fields = [f.name for f in TravelRuleRecord._meta.fields]
    actions = ["export_json"]

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    @admin.action(description="Export selected as IVMS101 JSON", permissions=["export"])
    def export_json(self, request: HttpRequest, queryset: QuerySet[TravelRuleRecord]) -> HttpResponse:
        records = [
            {
                "withdrawal_id": record.withdrawal_id,
                "created_at": record.created_at.isoformat(),
                "beneficiary_ownership": record.beneficiary_ownership,
                "ivms101": record.payload,
            }
            for record in queryset.order_by("id")
        ]
        response = JsonResponse(records, safe=False, json_dumps_params={"indent": 2})
        response["Content-Disposition"] = 'attachment; filename="travel-rule-records.json"'
        return response
