"""The customer's verification pages: overview, personal data and residence, documents."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.kyc_forms import AddressDocumentForm, IdentityDocumentForm, PersonalForm
from accounts.models import DocumentKind, KycLevel, KycProfile, User
from accounts.services.kyc import kyc_document_submit, kyc_personal_submit
from accounts.services.kyc_status import kyc_status_get
from core.errors import DomainError


def _show_refusal(form: forms.Form, exc: DomainError) -> None:
    """A service refusal next to the field it names (KycFieldError, JurisdictionRefused), else on top."""
    field = getattr(exc, "field", None)
    form.add_error(field if field in form.fields else None, exc.message)


@login_required
def kyc_overview(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    return render(request, "accounts/kyc.html", {"status": kyc_status_get(user=user)})


@login_required
@require_http_methods(["GET", "POST"])
def kyc_personal(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    profile = KycProfile.objects.filter(user=user).first()
    initial: dict[str, Any] = {}
    if profile is not None:
        initial = {
            name: getattr(profile, name) for name in PersonalForm.base_fields if hasattr(profile, name)
        }
        initial["tax_self_certified"] = False  # re-certified on every change
    form = PersonalForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            outcome = kyc_personal_submit(user=user, **form.cleaned_data)
        except DomainError as exc:
            _show_refusal(form, exc)
        else:
            if outcome.case is not None:
                messages.info(
                    request,
                    "Thank you. Your details need a manual check; we will update your verification page.",
                )
            elif outcome.level != KycLevel.NONE:
                messages.success(request, "Thank you. You can now deposit and trade spot markets.")
            return redirect("accounts:kyc")
    return render(request, "accounts/kyc_personal.html", {"form": form, "status": kyc_status_get(user=user)})


@login_required
@require_http_methods(["GET", "POST"])
def kyc_documents(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    kind = request.POST.get("kind") if request.method == "POST" else None
    identity_form = IdentityDocumentForm(
        request.POST if kind == DocumentKind.IDENTITY else None,
        request.FILES if kind == DocumentKind.IDENTITY else None,
        prefix="identity",
    )
    address_form = AddressDocumentForm(
        request.POST if kind == DocumentKind.PROOF_OF_ADDRESS else None,
        request.FILES if kind == DocumentKind.PROOF_OF_ADDRESS else None,
        prefix="address",
    )
    form: forms.Form | None = {
        DocumentKind.IDENTITY: identity_form,
        DocumentKind.PROOF_OF_ADDRESS: address_form,
    }.get(kind or "")
    if form is not None and form.is_valid():
        data = dict(form.cleaned_data)
        upload = data.pop("file")
        try:
            kyc_document_submit(user=user, kind=kind or "", file=upload, size=upload.size, **data)
        except DomainError as exc:
            _show_refusal(form, exc)
        else:
            messages.success(request, "Document received.")
            return redirect("accounts:kyc")
    return render(
        request,
        "accounts/kyc_documents.html",
        {"identity_form": identity_form, "address_form": address_form, "status": kyc_status_get(user=user)},
    )
