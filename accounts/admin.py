"""Back office for users and API keys.

The admin site is Django's stock one with its normal login page at /admin/login/. Requiring a
second factor for staff (django_otp's OTPAdminSite) is part of the compliance work in issue 5,
together with the staff roles: enforcing it now would lock out the demo officer, who has no device.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import BaseUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.models import (
    OPEN_CASE_STATUSES,
    ApiKey,
    Jurisdiction,
    KycCase,
    KycCaseStatus,
    KycDocument,
    KycProfile,
    RiskBand,
    User,
)
from accounts.services.api_keys import api_key_revoke
from accounts.services.kyc_jurisdictions import jurisdiction_save
from accounts.services.kyc_review import (
    REVIEW_PERMISSION,
    kyc_case_approve,
    kyc_case_reject,
    kyc_case_request_info,
    kyc_enhanced_case_open,
    kyc_pep_set,
)
from accounts.services.users import user_create, user_email_check
from compliance.models import Alert
from core.admin import ReadOnlyAdminMixin
from core.errors import DomainError, InvalidRequest, NotFound

admin.site.site_header = "Satchel administration"
admin.site.site_title = "Satchel admin"


class UserCreationForm(BaseUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)

    def clean_email(self) -> str:
        try:
            return user_email_check(email=self.cleaned_data["email"])
        except InvalidRequest as exc:
            raise forms.ValidationError(exc.message) from exc


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    list_display = ("email", "kyc_level", "is_staff", "is_active", "date_joined")
    list_filter = ("kyc_level", "is_staff", "is_superuser", "is_active", "groups")
    search_fields = ("email",)
    ordering = ("email",)
    date_hierarchy = "date_joined"
    # KYC tiers change through the compliance review, which records who decided and why; an edit
    # box here would bypass it.
    readonly_fields = ("kyc_level", "last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Verification", {"fields": ("kyc_level",)}),
        (
            "Trading settings",
            {"fields": ("auto_borrow_settlements", "auto_lend", "auto_repay_borrows", "leverage_limit")},
        ),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    def save_model(self, request: HttpRequest, obj: User, form: forms.ModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # New users go through the same service as sign-up; the admin then logs and redirects
        # using `obj`, so it takes the created row's identity.
        created = user_create(email=form.cleaned_data["email"], password=form.cleaned_data["password1"])
        obj.pk = created.pk
        obj.password = created.password
        obj.date_joined = created.date_joined
        obj._state.adding = False
        obj._state.db = created._state.db


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("public_key", "user", "label", "origin", "created_at", "last_used_at", "revoked_at")
    list_filter = ("origin", ("revoked_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("public_key", "user__email", "label")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    # Only the label is editable: moving a key to another user would hand them the key holder's
    # access, and revocation has its own action so it goes through the service.
    readonly_fields = ("user", "public_key", "origin", "created_at", "last_used_at", "revoked_at")
    fields = ("user", "public_key", "label", "origin", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Keys are created by their owner through api_key_create/api_key_register.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Revoked keys stay on record (which key signed what); revoke instead of deleting.
        return False

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = 0
        for api_key in queryset.select_related("user"):
            was_active = api_key.is_active
            try:
                api_key_revoke(user=api_key.user, api_key_id=api_key.pk)
            except NotFound:
                continue
            if was_active:
                revoked += 1
        self.message_user(request, f"Revoked {revoked} API key(s).", messages.SUCCESS)


# --- KYC back office ---------------------------------------------------------------------------------
# Cases, profiles and documents are written by services (accounts.services.kyc*); these pages
# only read, and the officers' decisions go through kyc_case_approve/reject/request_info, which
# check `accounts.review_kyc` themselves and write the audit trail.


class RiskBandFilter(admin.SimpleListFilter):
    title = "risk band"
    parameter_name = "risk"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return list(RiskBand.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value():
            return queryset.filter(user__kyc_profile__risk_band=self.value())
        return queryset


class OpenFilter(admin.SimpleListFilter):
    title = "queue"
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("open", "Open (pending or waiting for customer)"), ("pending", "Pending review")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[KycCase]) -> QuerySet[KycCase]:
        if self.value() == "open":
            return queryset.filter(status__in=OPEN_CASE_STATUSES)
        if self.value() == "pending":
            return queryset.filter(status=KycCaseStatus.PENDING)
        return queryset


class KycDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("approve", "Approve"), ("reject", "Reject"), ("request_info", "Ask for more information")],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        max_length=2000,
        help_text="Rejection reason or information request: the customer sees it. Optional note on approval.",
    )
    source_of_funds = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 80}))
    source_of_wealth = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 80}))


@admin.register(KycCase)
class KycCaseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "user", "legal_name", "kind", "status", "target_level", "risk_band", "created_at")
    list_filter = (OpenFilter, "status", "kind", "target_level", RiskBandFilter, "created_at")
    search_fields = ("user__email", "user__kyc_profile__legal_name", "opened_reason")
    list_select_related = ("user", "user__kyc_profile")
    date_hierarchy = "created_at"
    ordering = ("created_at",)

    @admin.display(description="legal name", ordering="user__kyc_profile__legal_name")
    def legal_name(self, case: KycCase) -> str:
        profile = getattr(case.user, "kyc_profile", None)
        return profile.legal_name if profile else "—"

    @admin.display(description="risk", ordering="user__kyc_profile__risk_score")
    def risk_band(self, case: KycCase) -> str:
        profile = getattr(case.user, "kyc_profile", None)
        return f"{profile.risk_band} ({profile.risk_score})" if profile else "—"

    def get_urls(self) -> list[Any]:
        return [
            path(
                "document/<int:document_id>/",
                self.admin_site.admin_view(self.document_view),
                name="accounts_kyccase_document",
            ),
            *super().get_urls(),
        ]

    def document_view(self, request: HttpRequest, document_id: int) -> HttpResponse:
        """A customer's uploaded file, for staff allowed to view KYC documents only (never served
        from MEDIA_URL). `nosniff` and the type checked at upload keep a crafted file inert."""
        if not request.user.has_perm("accounts.view_kycdocument"):
            raise PermissionDenied
        document = KycDocument.objects.filter(pk=document_id).first()
        if document is None:
            raise Http404
        response = FileResponse(document.file.open("rb"), content_type=document.content_type)
        response["Content-Disposition"] = (
            f'inline; filename="kyc-{document.pk}{PurePosixPath(document.file.name).suffix}"'
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """The case page: the customer's data, documents, screening hits, risk and reasons, and
        the decision form (for officers with accounts.review_kyc)."""
        case = KycCase.objects.select_related("user", "decided_by").filter(pk=object_id).first()
        if case is None or not self.has_view_permission(request, case):
            raise Http404 if case is None else PermissionDenied
        can_decide = request.user.has_perm(REVIEW_PERMISSION)
        form = KycDecisionForm(request.POST if request.method == "POST" else None)
        if request.method == "POST":
            if not can_decide:
                raise PermissionDenied
            if form.is_valid():
                try:
                    self._decide(request, case, form.cleaned_data)
                except DomainError as exc:
                    form.add_error(None, exc.message)
                else:
                    self.message_user(request, f"Case #{case.pk}: decision recorded.", messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:accounts_kyccase_changelist"))
        profile = KycProfile.objects.filter(user=case.user).first()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": str(case),
            "case": case,
            "profile": profile,
            "documents": KycDocument.objects.filter(user=case.user).order_by("-uploaded_at"),
            "alerts": Alert.objects.filter(subject=case.user).select_related("entry").order_by("-created_at"),
            "history": KycCase.objects.filter(user=case.user).exclude(pk=case.pk).order_by("-created_at"),
            "can_decide": can_decide and case.is_open,
            "can_view_documents": request.user.has_perm("accounts.view_kycdocument"),
            "form": form,
        }
        return TemplateResponse(request, "admin/accounts/kyccase/review.html", context)

    def _decide(self, request: HttpRequest, case: KycCase, data: dict[str, Any]) -> None:
        officer: User = request.user  # type: ignore[assignment]
        if data["decision"] == "approve":
            kyc_case_approve(
                case=case,
                officer=officer,
                reason=data["reason"],
                source_of_funds=data["source_of_funds"],
                source_of_wealth=data["source_of_wealth"],
            )
        elif data["decision"] == "reject":
            kyc_case_reject(case=case, officer=officer, reason=data["reason"])
        else:
            kyc_case_request_info(case=case, officer=officer, message=data["reason"])


class ReasonOnlyForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 80}), max_length=2000)


@admin.register(KycProfile)
class KycProfileAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "user",
        "legal_name",
        "residence_country",
        "nationality",
        "is_pep",
        "risk_band",
        "risk_score",
        "next_review_at",
    )
    list_filter = ("risk_band", "is_pep", "residence_country", "user__kyc_level")
    search_fields = ("user__email", "legal_name", "tax_identification_number")
    list_select_related = ("user",)
    readonly_fields = ("risk_reasons_list",)
    exclude = ("risk_reasons",)
    actions = ["open_enhanced_due_diligence", "mark_pep", "clear_pep"]

    @admin.display(description="risk reasons")
    def risk_reasons_list(self, profile: KycProfile) -> str:
        return "; ".join(profile.risk_reasons) or "—"

    def has_review_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(REVIEW_PERMISSION))

    def _with_reason(
        self, request: HttpRequest, queryset: QuerySet[KycProfile], *, action: str, title: str, run: Any
    ) -> HttpResponse | None:
        form = ReasonOnlyForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": title,
                "explanation": "Give the reason for the audit trail.",
                "queryset": queryset,
                "form": form,
                "action": action,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/compliance/reason_form.html", context)
        done = 0
        for profile in queryset.select_related("user"):
            try:
                run(profile, form.cleaned_data["reason"])
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{profile.user}: {exc.message}", messages.ERROR)
        self.message_user(request, f"{title}: {done} customer(s).", messages.SUCCESS)
        return None

    @admin.action(description="Open enhanced due diligence case", permissions=["review"])
    def open_enhanced_due_diligence(
        self, request: HttpRequest, queryset: QuerySet[KycProfile]
    ) -> HttpResponse | None:
        officer: User = request.user  # type: ignore[assignment]
        return self._with_reason(
            request,
            queryset,
            action="open_enhanced_due_diligence",
            title="Open enhanced due diligence",
            run=lambda profile, reason: kyc_enhanced_case_open(
                user=profile.user, officer=officer, reason=reason
            ),
        )

    @admin.action(description="Mark as politically exposed person", permissions=["review"])
    def mark_pep(self, request: HttpRequest, queryset: QuerySet[KycProfile]) -> HttpResponse | None:
        officer: User = request.user  # type: ignore[assignment]
        return self._with_reason(
            request,
            queryset,
            action="mark_pep",
            title="Mark as PEP",
            run=lambda profile, reason: kyc_pep_set(
                user=profile.user, is_pep=True, officer=officer, reason=reason
            ),
        )

    @admin.action(description="Clear PEP status", permissions=["review"])
    def clear_pep(self, request: HttpRequest, queryset: QuerySet[KycProfile]) -> HttpResponse | None:
        officer: User = request.user  # type: ignore[assignment]
        return self._with_reason(
            request,
            queryset,
            action="clear_pep",
            title="Clear PEP status",
            run=lambda profile, reason: kyc_pep_set(
                user=profile.user, is_pep=False, officer=officer, reason=reason
            ),
        )


@admin.register(KycDocument)
class KycDocumentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "user",
        "kind",
        "document_type",
        "issuing_country",
        "expiry_date",
        "content_type",
        "size",
        "uploaded_at",
        "open_file",
    )
    list_filter = ("kind", "document_type", "content_type")
    search_fields = ("user__email", "number", "sha256")
    list_select_related = ("user",)
    exclude = ("file",)  # the stock widget would link to MEDIA_URL; files open through document_view

    @admin.display(description="file")
    def open_file(self, document: KycDocument) -> str:
        url = reverse("admin:accounts_kyccase_document", args=[document.pk])
        return format_html('<a href="{}" target="_blank" rel="noopener">open</a>', url)


@admin.register(Jurisdiction)
class JurisdictionAdmin(admin.ModelAdmin):
    list_display = (
        "country",
        "name",
        "onboarding_allowed",
        "derivatives_allowed",
        "is_eu_eea",
        "is_high_risk",
        "updated_at",
    )
    list_filter = ("onboarding_allowed", "derivatives_allowed", "is_eu_eea", "is_high_risk")
    search_fields = ("country", "name")
    readonly_fields = ("updated_at",)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a country without a row is allowed everything: switch rules off instead

    def save_model(
        self, request: HttpRequest, obj: Jurisdiction, form: forms.ModelForm, change: bool
    ) -> None:
        jurisdiction_save(jurisdiction=obj, actor=request.user)  # type: ignore[arg-type]
