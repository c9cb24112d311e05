"""Back office for the exchange app.

Assets, tokens and markets are configuration and editable here. Ledger accounts, journal entries
and deposits are domain state written only by services: their pages are read-only, and the one
write staff may make, crediting a deposit, goes through `deposit_credit` like every other credit.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from core.admin import ReadOnlyAdminMixin
from core.errors import DomainError, InvalidAsset, InvalidQuantity
from core.money import render
from exchange.models import Asset, AssetToken, Deposit, JournalEntry, JournalLine, LedgerAccount, Market
from exchange.services.deposits import REVIEW_PERMISSION, deposit_credit, deposit_reject, deposit_release

# Django's default permission on Deposit; the normal add form is off, this one gates the credit form.
CREDIT_DEPOSIT_PERMISSION = "exchange.add_deposit"


class AssetTokenInline(admin.TabularInline):
    model = AssetToken
    extra = 0
    fields = [
        "blockchain",
        "display_name",
        "contract_address",
        "deposit_enabled",
        "withdraw_enabled",
        "minimum_deposit",
        "minimum_withdrawal",
        "maximum_withdrawal",
        "withdrawal_fee",
        "native_decimals",
    ]


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ["symbol", "display_name", "decimals", "coingecko_id"]
    search_fields = ["symbol", "display_name"]
    inlines = [AssetTokenInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Asset | None = None) -> list[str]:
        # Once amounts exist in an asset, a new precision would make stored amounts invalid and a
        # new symbol would break every client that names it.
        return ["symbol", "decimals"] if obj is not None else []


@admin.register(Market)
class MarketAdmin(admin.ModelAdmin):
    list_display = ["symbol", "market_type", "order_book_state", "tick_size", "step_size", "visible"]
    list_filter = ["market_type", "order_book_state", "visible"]
    search_fields = ["symbol"]

    def get_readonly_fields(self, request: HttpRequest, obj: Market | None = None) -> list[str]:
        # Orders and positions refer to a market by what it trades: that never changes once created.
        return ["symbol", "base", "quote", "market_type"] if obj is not None else []


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "owner", "kind", "asset", "balance", "updated_at"]
    list_filter = ["kind", "asset"]
    search_fields = ["owner__email"]
    list_select_related = ["owner", "asset"]


class JournalLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = JournalLine
    fields = ["account", "asset", "amount"]
    readonly_fields = fields
    can_delete = False
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[JournalLine]:
        return super().get_queryset(request).select_related("account__owner", "asset")


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "kind", "reference", "memo", "created_by", "created_at"]
    list_filter = ["kind"]
    search_fields = ["reference", "idempotency_key", "memo"]
    date_hierarchy = "created_at"
    list_select_related = ["created_by"]
    inlines = [JournalLineInline]


class DepositCreditForm(forms.Form):
    email = forms.EmailField(label="User email")
    asset = forms.ModelChoiceField(queryset=Asset.objects.order_by("symbol"))
    # Text, not a number input: browsers check its step in floating point and misjudge 18 decimals.
    quantity = forms.DecimalField(
        max_digits=38,
        decimal_places=18,
        min_value=Decimal(0),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    memo = forms.CharField(
        max_length=255, help_text="Why the credit is made (ticket, incident): kept on the journal entry."
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        email = cleaned.get("email")
        if email:
            user = get_user_model().objects.filter(email__iexact=email).first()
            if user is None:
                self.add_error("email", "No user has this email address.")
            else:
                cleaned["user"] = user
        return cleaned


# Which form field a refusal from deposit_credit belongs to (anything else goes above the form).
CREDIT_ERROR_FIELDS: dict[type[DomainError], str] = {InvalidQuantity: "quantity", InvalidAsset: "asset"}


@admin.register(Deposit)
class DepositAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "user",
        "asset",
        "quantity",
        "source",
        "status",
        "transaction_hash",
        "created_by",
        "created_at",
    ]
    list_filter = ["status", "source", "asset"]
    search_fields = ["user__email", "transaction_hash", "to_address", "from_address"]
    date_hierarchy = "created_at"
    list_select_related = ["user", "asset", "created_by"]
    change_list_template = "admin/exchange/deposit/change_list.html"
    actions = ["release_selected", "reject_selected"]

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REVIEW_PERMISSION)

    @admin.action(description="Release selected held deposits (credit them)…", permissions=["review"])
    def release_selected(self, request: HttpRequest, queryset: QuerySet[Deposit]) -> HttpResponse | None:
        return self._review(request, queryset, "release_selected", deposit_release, "Release held deposits")

    @admin.action(description="Reject selected held deposits (never credited)…", permissions=["review"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[Deposit]) -> HttpResponse | None:
        return self._review(request, queryset, "reject_selected", deposit_reject, "Reject held deposits")

    def _review(
        self, request: HttpRequest, queryset: QuerySet[Deposit], action: str, decide: Any, title: str
    ) -> HttpResponse | None:
        from compliance.admin import reason_step

        reason, page = reason_step(
            self,
            request,
            queryset,
            action=action,
            title=title,
            explanation="The reason is kept on the deposit and in the audit trail.",
        )
        if page is not None:
            return page
        done = 0
        for deposit in queryset.order_by("id"):
            try:
                decide(deposit_id=deposit.pk, officer=request.user, reason=reason or "")
            except DomainError as exc:
                self.message_user(request, f"#{deposit.pk}: {exc.message}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} deposit(s) decided.", messages.SUCCESS)
        return None

    def get_urls(self) -> list[URLPattern]:
        # Before the default patterns: their `<path:object_id>/` would otherwise take "credit/".
        credit = path(
            "credit/",
            self.admin_site.admin_view(self.credit_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_credit",
        )
        return [credit, *super().get_urls()]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {**(extra_context or {}), "can_credit_deposit": self._can_credit(request)}
        return super().changelist_view(request, extra_context)

    def _can_credit(self, request: HttpRequest) -> bool:
        return request.user.has_perm(CREDIT_DEPOSIT_PERMISSION)

    def credit_view(self, request: HttpRequest) -> HttpResponse:
        """Staff credit: external -> the user's available balance, recorded with the staff member."""
        if not self._can_credit(request):
            raise PermissionDenied
        form = DepositCreditForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            data = form.cleaned_data
            try:
                deposit = deposit_credit(
                    user_id=data["user"].pk,
                    asset=data["asset"],
                    quantity=data["quantity"],
                    source="administrator",
                    created_by_id=request.user.pk,
                    memo=data["memo"],
                )
            except DomainError as exc:
                form.add_error(CREDIT_ERROR_FIELDS.get(type(exc)), exc.message)
            else:
                self.log_addition(request, deposit, "Credited through the staff deposit form.")
                self.message_user(
                    request,
                    f"Credited {render(deposit.quantity)} {data['asset'].symbol} to {data['user'].email} "
                    f"(deposit #{deposit.pk}).",
                    messages.SUCCESS,
                )
                # Redirect after the POST so a browser refresh cannot submit the credit again.
                return HttpResponseRedirect(
                    reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Credit a deposit",
            "form": form,
        }
        return TemplateResponse(request, "admin/exchange/deposit/credit.html", context)


# The FeeTier admin lives in its own module; importing it registers it.
from exchange import admin_custody, admin_fees  # noqa: E402, F401
