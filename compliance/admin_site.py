"""The staff admin site: two-factor authentication is mandatory, and the index shows the work queues.

Staff log in through the customer login (password, then the authenticator code: accounts.views
login_view and login_2fa), so there is one login with one throttle. The site admits only sessions
that passed the code step (django-otp's `is_verified`): a staff member without a confirmed device
is sent to the security page to set one up; a session opened without the code step (before 2FA was set up, or by
`force_login`) is logged out and sent through the login again.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.auth import logout as auth_logout
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.services.two_factor import user_has_2fa
from compliance.selectors import CUSTOMER_VIEW_PERMISSION, customer_overview, staff_queues


def _session_verified(request: HttpRequest) -> bool:
    is_verified = getattr(request.user, "is_verified", None)
    return bool(is_verified is not None and is_verified())


class StaffAdminSite(admin.AdminSite):
    site_header = "Satchel back office"
    site_title = "Satchel back office"
    index_title = "Work queues and records"
    index_template = "admin/staff_index.html"

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and _session_verified(request)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        index = reverse("admin:index", current_app=self.name)
        next_url = request.GET.get("next") or request.POST.get("next") or index
        if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
            next_url = index
        user = request.user
        if user.is_authenticated and user.is_active and user.is_staff:
            if _session_verified(request):
                return HttpResponseRedirect(next_url)
            if not user_has_2fa(user):
                messages.warning(
                    request,
                    "Staff accounts need two-factor authentication: set up an authenticator app "
                    "to open the back office.",
                )
                return HttpResponseRedirect(reverse("accounts:security"))
            # Logged in without the code step: log in again, this time with the code.
            auth_logout(request)
        elif user.is_authenticated:
            auth_logout(request)
        return HttpResponseRedirect(f"{reverse('accounts:login')}?{urlencode({'next': next_url})}")

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = {**(extra_context or {}), "queues": staff_queues(viewer=request.user)}
        return super().index(request, extra_context)

    def get_urls(self) -> list[URLPattern]:
        customer = path(
            "customers/<int:user_id>/",
            self.admin_view(self.customer_view),
            name="customer_overview",
        )
        return [customer, *super().get_urls()]

    def customer_view(self, request: HttpRequest, user_id: int) -> HttpResponse:
        """Everything about one customer on one page; each section only with its view permission."""
        if not request.user.has_perm(CUSTOMER_VIEW_PERMISSION):
            raise PermissionDenied
        overview = customer_overview(user_id=user_id, viewer=request.user)
        if overview is None:
            raise Http404("No such customer")
        context = {
            **self.each_context(request),
            "title": f"Customer {overview.user.email}",
            "overview": overview,
        }
        return TemplateResponse(request, "admin/customer_overview.html", context)


def customer_link(user_id: int | None) -> str:
    """The customer page's URL, or "" when there is no customer (admin list columns use it)."""
    if user_id is None:
        return ""
    try:
        return reverse("admin:customer_overview", args=[user_id])
    except NoReverseMatch:
        return ""
