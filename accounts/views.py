"""Account pages: sign-up, login with an optional TOTP step, logout, and the security page."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

import django_otp
import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.forms import (
    ApiKeyCreateForm,
    ApiKeyRegisterForm,
    LoginForm,
    SignupForm,
    TwoFactorCodeForm,
    TwoFactorDisableForm,
)
from accounts.models import ApiKey, User
from accounts.services.api_keys import api_key_create, api_key_register, api_key_revoke
from accounts.services.kyc_status import kyc_status_get
from accounts.services.two_factor import (
    totp_device_config_url,
    totp_device_confirm,
    totp_device_delete,
    totp_device_pending,
    totp_device_secret_base32,
    totp_device_start,
    totp_device_verify,
    user_has_2fa,
)
from accounts.services.users import user_create
from core.errors import InvalidRequest, NotFound

# The password step's result waits in the session for the code; after this long the password
# must be entered again, so a half-finished login left on a shared computer goes stale.
PENDING_LOGIN_SESSION_KEY = "accounts_pending_login"
PENDING_LOGIN_MAX_AGE_SECONDS = 300
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"

View = Callable[..., HttpResponse]


def two_factor_session_required(view: View) -> View:
    """Login required, and for a user with 2FA a session that passed the code step.

    A session opened before 2FA was turned on (possibly by someone else) never passed the code
    step: on these pages it is logged out and sent back to log in with a code.
    """

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if user_has_2fa(request.user) and not request.user.is_verified():
            auth_logout(request)
            messages.info(request, "Log in again with your two-factor code to continue.")
            return redirect_to_login(reverse("accounts:security"))
        return view(request, *args, **kwargs)

    return wrapper


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {}
    if request.user.is_authenticated:
        context["has_2fa"] = user_has_2fa(request.user)
        context["active_api_keys"] = ApiKey.objects.filter(user=request.user, revoked_at__isnull=True).count()
        context["kyc"] = kyc_status_get(user=request.user)
    return render(request, "accounts/home.html", context)


@sensitive_post_parameters("password", "password_confirm")
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("accounts:home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = user_create(email=form.cleaned_data["email"], password=form.cleaned_data["password"])
        except InvalidRequest as exc:
            # Only reachable when the same email signed up between the form check and the insert.
            form.add_error("email", exc.message)
        else:
            auth_login(request, user, backend=MODEL_BACKEND)
            messages.success(request, "Welcome to Satchel: your account is ready.")
            return redirect("accounts:home")
    return render(request, "accounts/signup.html", {"form": form})


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = _next_url(request)
    if request.user.is_authenticated:
        return HttpResponseRedirect(next_url)
    form = LoginForm(request.POST or None, request=request)
    if request.method == "POST" and form.is_valid():
        user = form.user
        assert user is not None  # set by a valid LoginForm
        if user_has_2fa(user):
            request.session[PENDING_LOGIN_SESSION_KEY] = {
                "user_id": user.pk,
                "backend": getattr(user, "backend", MODEL_BACKEND),
                "started_at": time.time(),
                "next": next_url,
                # Changes with the password: a password reset in between voids the first step.
                "auth_hash": user.get_session_auth_hash(),
            }
            return redirect("accounts:login_2fa")
        auth_login(request, user)
        return HttpResponseRedirect(next_url)
    # Kept as typed: _next_url checks it again on every use.
    next_field = request.POST.get("next") or request.GET.get("next", "")
    return render(request, "accounts/login.html", {"form": form, "next": next_field})


@sensitive_post_parameters("token")
@never_cache
@require_http_methods(["GET", "POST"])
def login_2fa(request: HttpRequest) -> HttpResponse:
    pending = request.session.get(PENDING_LOGIN_SESSION_KEY)
    if not pending:
        return redirect("accounts:login")
    user = User.objects.filter(pk=pending["user_id"], is_active=True).first()
    if (
        user is None
        or time.time() - pending["started_at"] > PENDING_LOGIN_MAX_AGE_SECONDS
        or not constant_time_compare(user.get_session_auth_hash(), pending["auth_hash"])
    ):
        del request.session[PENDING_LOGIN_SESSION_KEY]
        messages.info(request, "That login took too long: enter your password again.")
        return redirect("accounts:login")
    form = TwoFactorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = totp_device_verify(user=user, token=form.cleaned_data["token"])
        except InvalidRequest as exc:
            form.add_error("token", exc.message)
        else:
            del request.session[PENDING_LOGIN_SESSION_KEY]
            auth_login(request, user, backend=pending["backend"])
            django_otp.login(request, device)
            return HttpResponseRedirect(pending["next"])
    return render(request, "accounts/login_2fa.html", {"form": form})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    auth_logout(request)
    return redirect(settings.LOGOUT_REDIRECT_URL)


@two_factor_session_required
@require_GET
def security(request: HttpRequest) -> HttpResponse:
    return _security_page(request)


@two_factor_session_required
@require_http_methods(["GET", "POST"])
def totp_setup(request: HttpRequest) -> HttpResponse:
    """POST starts setup (a new secret); GET shows the pending secret and asks for the first code."""
    if request.method == "POST":
        try:
            totp_device_start(user=request.user)
        except InvalidRequest as exc:
            messages.error(request, exc.message)
            return redirect("accounts:security")
        return redirect("accounts:totp_setup")
    return _totp_setup_page(request, TwoFactorCodeForm())


@sensitive_post_parameters("token")
@two_factor_session_required
@require_POST
def totp_confirm(request: HttpRequest) -> HttpResponse:
    form = TwoFactorCodeForm(request.POST)
    if form.is_valid():
        try:
            device = totp_device_confirm(user=request.user, token=form.cleaned_data["token"])
        except InvalidRequest as exc:
            form.add_error("token", exc.message)
        else:
            # This session has just proved it holds the device: mark it verified.
            django_otp.login(request, device)
            messages.success(request, "Two-factor authentication is on. Login now asks for a code.")
            return redirect("accounts:security")
    return _totp_setup_page(request, form)


@sensitive_post_parameters("token")
@two_factor_session_required
@require_POST
def totp_disable(request: HttpRequest) -> HttpResponse:
    form = TwoFactorDisableForm(request.POST)
    if form.is_valid():
        try:
            totp_device_delete(user=request.user, token=form.cleaned_data["token"])
        except InvalidRequest as exc:
            form.add_error("token", exc.message)
        else:
            messages.success(request, "Two-factor authentication is off.")
            return redirect("accounts:security")
    return _security_page(request, disable_form=form)


@never_cache
@two_factor_session_required
@require_POST
def api_key_create_view(request: HttpRequest) -> HttpResponse:
    form = ApiKeyCreateForm(request.POST)
    if form.is_valid():
        try:
            api_key, secret = api_key_create(user=request.user, label=form.cleaned_data["label"])
        except InvalidRequest as exc:
            form.add_error(None, exc.message)
        else:
            # Rendered in the POST response, not after a redirect: the secret must not be parked in
            # the session (a database row) to survive one. never_cache keeps it out of caches.
            return render(request, "accounts/api_key_created.html", {"api_key": api_key, "secret": secret})
    return _security_page(request, create_form=form)


@two_factor_session_required
@require_POST
def api_key_register_view(request: HttpRequest) -> HttpResponse:
    form = ApiKeyRegisterForm(request.POST)
    if form.is_valid():
        try:
            api_key = api_key_register(
                user=request.user,
                public_key=form.cleaned_data["public_key"],
                label=form.cleaned_data["label"],
            )
        except InvalidRequest as exc:
            form.add_error("public_key", exc.message)
        else:
            messages.success(request, f"Public key {api_key.public_key} registered.")
            return redirect("accounts:security")
    return _security_page(request, register_form=form)


@two_factor_session_required
@require_POST
def api_key_revoke_view(request: HttpRequest, api_key_id: int) -> HttpResponse:
    try:
        api_key = api_key_revoke(user=request.user, api_key_id=api_key_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    messages.success(request, f"API key {api_key.public_key} revoked.")
    return redirect("accounts:security")


def _security_page(
    request: HttpRequest,
    *,
    disable_form: TwoFactorDisableForm | None = None,
    create_form: ApiKeyCreateForm | None = None,
    register_form: ApiKeyRegisterForm | None = None,
) -> HttpResponse:
    context = {
        "has_2fa": user_has_2fa(request.user),
        "api_keys": ApiKey.objects.filter(user=request.user).order_by("revoked_at", "-created_at", "-id"),
        "disable_form": disable_form or TwoFactorDisableForm(),
        "create_form": create_form or ApiKeyCreateForm(),
        "register_form": register_form or ApiKeyRegisterForm(),
    }
    return render(request, "accounts/security.html", context)


def _totp_setup_page(request: HttpRequest, form: TwoFactorCodeForm) -> HttpResponse:
    device = totp_device_pending(user=request.user)
    if device is None or user_has_2fa(request.user):
        return redirect("accounts:security")
    config_url = totp_device_config_url(device)
    context = {
        "form": form,
        "qr_svg": _qr_svg(config_url),
        "secret": totp_device_secret_base32(device),
        "config_url": config_url,
    }
    response = render(request, "accounts/totp_setup.html", context)
    # The page carries the TOTP secret.
    response["Cache-Control"] = "no-store"
    return response


def _qr_svg(data: str) -> str:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    svg = image.to_string(encoding="unicode")
    svg = svg.replace(
        "<svg ", '<svg class="qr" role="img" aria-label="QR code for your authenticator app" ', 1
    )
    # Generated from the otpauth URL by qrcode: paths and numbers only, no user text in the markup.
    return mark_safe(svg)  # noqa: S308


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)
