"""Back office for users and API keys.

The admin site is Django's stock one with its normal login page at /admin/login/. Requiring a
second factor for staff (django_otp's OTPAdminSite) is part of the compliance work in issue 5,
together with the staff roles: enforcing it now would lock out the demo officer, who has no device.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import BaseUserCreationForm, UserChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import ApiKey, User
from accounts.services.api_keys import api_key_revoke
from accounts.services.users import user_create, user_email_check
from core.errors import InvalidRequest, NotFound

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
