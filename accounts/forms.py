"""Forms for the account pages. They check input shape; the services make every decision."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import authenticate
from django.http import HttpRequest

from accounts.models import User
from accounts.services.api_keys import LABEL_MAX_LENGTH
from accounts.services.users import user_email_check, user_password_check
from core.errors import InvalidRequest

LOGIN_FAILED_MESSAGE = "Email or password is incorrect"


class SignupForm(forms.Form):
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )
    password = forms.CharField(
        strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password_confirm = forms.CharField(
        label="Confirm password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_email(self) -> str:
        # The service's own checks, run here as well so each message lands next to its field.
        try:
            return user_email_check(email=self.cleaned_data["email"])
        except InvalidRequest as exc:
            raise forms.ValidationError(exc.message) from exc

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password = cleaned.get("password")
        confirm = cleaned.get("password_confirm")
        if password and confirm and password != confirm:
            self.add_error("password_confirm", "The two passwords do not match")
        if password:
            try:
                user_password_check(password=password, email=cleaned.get("email") or "")
            except InvalidRequest as exc:
                self.add_error("password", exc.message)
        return cleaned


class LoginForm(forms.Form):
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )
    password = forms.CharField(
        strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def __init__(self, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        self.user: User | None = None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        email, password = cleaned.get("email"), cleaned.get("password")
        if email and password:
            # Emails are stored lower-case; ModelBackend looks them up exactly.
            user = authenticate(self.request, username=email.strip().lower(), password=password)
            # One message for unknown email, wrong password and inactive user: the page must not
            # reveal which addresses have accounts.
            if user is None:
                raise forms.ValidationError(LOGIN_FAILED_MESSAGE)
            self.user = user
        return cleaned


class TwoFactorCodeForm(forms.Form):
    token = forms.CharField(
        label="Authentication code",
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class TwoFactorDisableForm(TwoFactorCodeForm):
    """The code box on the security page, which shares the page with other forms."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_disable_%s")
        super().__init__(*args, **kwargs)
        self.fields["token"].widget.attrs.pop("autofocus", None)


class ApiKeyCreateForm(forms.Form):
    label = forms.CharField(max_length=LABEL_MAX_LENGTH, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Unique element ids: the create and register forms share the security page.
        kwargs.setdefault("auto_id", "id_create_%s")
        super().__init__(*args, **kwargs)


class ApiKeyRegisterForm(forms.Form):
    public_key = forms.CharField(
        label="Public key (base64)",
        max_length=128,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    label = forms.CharField(max_length=LABEL_MAX_LENGTH, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_register_%s")
        super().__init__(*args, **kwargs)
