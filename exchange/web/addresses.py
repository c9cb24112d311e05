"""The withdrawal address book page: the customer's entries with their waiting period and proof of
control, adding one (with the two-factor code), removing one, and the Satoshi test.

Every write goes through `exchange.services.withdrawal_addresses`; a DomainError it raises is
shown next to the field it is about, or above the form. Entries are always looked up with the
requesting user, so another customer's entry is a 404 whatever its id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from math import ceil
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.kyc_tiers import Product
from accounts.models import User
from accounts.services.access import access_refusal
from accounts.services.two_factor import INVALID_TWO_FACTOR_CODE, user_has_2fa
from core.errors import DomainError, InvalidAsset, NotFound
from exchange.chain.simulated import SimulatedChain
from exchange.models import AssetToken, ProofMethod, WalletOwnership, WithdrawalAddress
from exchange.services.deposit_addresses import deposit_address_get_or_create
from exchange.services.withdrawal_addresses import (
    LABEL_MAX_LENGTH,
    NAME_MAX_LENGTH,
    TWO_FACTOR_REQUIRED,
    VASP_MAX_LENGTH,
    waiting_period,
    withdrawal_address_proof_start,
    withdrawal_address_register,
    withdrawal_address_remove,
)
from exchange.services.withdrawals import SELF_HOSTED_PROOF_THRESHOLD_EUR

ADDRESS_FIELDS = (
    "blockchain",
    "asset",
    "address",
    "label",
    "ownership",
    "vasp_name",
    "vasp_lei",
    "beneficiary_name",
    "twoFactorToken",
)


class AddressForm(forms.Form):
    """Field names match the page's `#<field>-error` hooks; the code field is the API's name."""

    blockchain = forms.CharField(max_length=64)
    asset = forms.CharField(max_length=32, required=False)
    address = forms.CharField(max_length=128)
    label = forms.CharField(max_length=LABEL_MAX_LENGTH, required=False)
    ownership = forms.ChoiceField(choices=WalletOwnership.choices)
    vasp_name = forms.CharField(max_length=VASP_MAX_LENGTH, required=False)
    vasp_lei = forms.CharField(max_length=20, required=False)
    beneficiary_name = forms.CharField(max_length=NAME_MAX_LENGTH, required=False)
    twoFactorToken = forms.CharField(max_length=16, required=False)  # noqa: N815 (the API's name)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        # The service refuses the same, but in one message; here each missing name gets its field.
        if data.get("ownership") == WalletOwnership.VASP:
            if not (data.get("vasp_name") or "").strip():
                self.add_error(
                    "vasp_name", "Name the provider (exchange or custodian) that holds this address."
                )
            if not (data.get("beneficiary_name") or "").strip():
                self.add_error(
                    "beneficiary_name", "Name the account holder at the provider (the travel rule sends it)."
                )
        return data


def address_error_field(error: DomainError) -> str | None:
    """The add form's field a service refusal is about, or None for a form-wide error."""
    if error.code in {INVALID_TWO_FACTOR_CODE, TWO_FACTOR_REQUIRED}:
        return "twoFactorToken"
    if isinstance(error, InvalidAsset):
        return "asset"
    message = error.message.lower()
    if "blockchain" in message:
        return "blockchain"
    if "lei" in message:
        return "vasp_lei"
    if "provider" in message or "beneficiary" in message:
        return "vasp_name"
    if "ownership" in message:
        return "ownership"
    if "address" in message:
        return "address"
    return None


def usable_text(entry: WithdrawalAddress, *, now: datetime) -> str:
    """'ready', or how long the waiting period still runs ('usable in 23 h', rounded up)."""
    remaining = (entry.usable_from - now).total_seconds()
    if remaining <= 0:
        return "ready"
    if remaining < 3600:
        return f"usable in {ceil(remaining / 60)} min"
    return f"usable in {ceil(remaining / 3600)} h"


def period_text() -> str:
    """The waiting period as a person says it: '24 hours', '30 minutes'."""
    seconds = int(waiting_period().total_seconds())
    if seconds and seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    minutes = ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


@dataclass(frozen=True)
class EntryRow:
    """One address-book row as the page and the withdrawal form's picker show it."""

    entry: WithdrawalAddress
    usable: str
    is_ready: bool
    proof_state: str  # not_needed, proven, pending, none
    proof_assets: list[str]
    deposit_address: str

    @property
    def destination(self) -> str:
        if self.entry.ownership == WalletOwnership.VASP:
            return self.entry.vasp_name
        return "Self-hosted wallet"


def entry_rows(user: User, *, with_deposit_addresses: bool = False) -> list[EntryRow]:
    """The user's entries, newest first, with what the page says about each."""
    now = timezone.now()
    entries = list(
        WithdrawalAddress.objects.filter(user=user).select_related("asset", "proof_asset").order_by("-id")
    )
    # Proof assets per chain: those the exchange accepts deposits of (the test is a deposit).
    depositable: dict[str, list[str]] = {}
    for blockchain, symbol in (
        AssetToken.objects.filter(deposit_enabled=True)
        .order_by("asset__symbol")
        .values_list("blockchain", "asset__symbol")
    ):
        depositable.setdefault(blockchain, []).append(symbol)
    may_deposit = with_deposit_addresses and access_refusal(user=user, product=Product.DEPOSIT) is None
    rows = []
    for entry in entries:
        if entry.ownership != WalletOwnership.SELF_HOSTED:
            state = "not_needed"
        elif entry.is_proven:
            state = "proven"
        elif entry.proof_method == ProofMethod.SATOSHI_TEST and entry.proof_quantity is not None:
            state = "pending"
        else:
            state = "none"
        deposit_address = ""
        if state == "pending" and may_deposit:
            # Where the test amount goes: the user's own deposit address on the entry's chain.
            deposit_address = deposit_address_get_or_create(
                user_id=user.pk, blockchain=entry.blockchain
            ).address
        rows.append(
            EntryRow(
                entry=entry,
                usable=usable_text(entry, now=now),
                is_ready=entry.usable_from <= now,
                proof_state=state,
                proof_assets=depositable.get(entry.blockchain, []),
                deposit_address=deposit_address,
            )
        )
    return rows


def _chains() -> list[str]:
    return sorted(set(AssetToken.objects.filter(withdraw_enabled=True).values_list("blockchain", flat=True)))


def _page(
    request: HttpRequest, form: AddressForm, *, form_error: str = "", status: int = 200
) -> HttpResponse:
    tokens = (
        AssetToken.objects.filter(withdraw_enabled=True).select_related("asset").order_by("asset__symbol")
    )
    rows = entry_rows(request.user, with_deposit_addresses=True)
    context: dict[str, Any] = {
        "rows": rows,
        "proof_rows": [r for r in rows if r.proof_state in {"pending", "none"}],
        "form": form,
        "form_error": form_error,
        "blockchains": _chains(),
        "assets": sorted({t.asset.symbol for t in tokens}),
        "waiting_period": period_text(),
        "proof_threshold": f"{SELF_HOSTED_PROOF_THRESHOLD_EUR:,.0f}",
        "has_2fa": user_has_2fa(request.user),
        "demo_deposits": settings.DEMO_DEPOSITS_ENABLED,
        "deposit_refusal": access_refusal(user=request.user, product=Product.DEPOSIT) or "",
    }
    return render(request, "exchange/address_book.html", context, status=status)


@login_required
def address_book(request: HttpRequest) -> HttpResponse:
    """GET lists the user's entries; POST adds one (two-factor code required)."""
    if request.method != "POST":
        return _page(request, AddressForm(initial={"ownership": WalletOwnership.SELF_HOSTED}))
    form = AddressForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    data = form.cleaned_data
    try:
        entry = withdrawal_address_register(
            user=request.user,
            two_factor_token=data["twoFactorToken"] or None,
            blockchain=data["blockchain"],
            address=data["address"],
            ownership=data["ownership"],
            label=data["label"],
            beneficiary_name=data["beneficiary_name"],
            vasp_name=data["vasp_name"],
            vasp_lei=data["vasp_lei"],
            asset_symbol=data["asset"],
        )
    except DomainError as error:
        field = address_error_field(error)
        if field is None:
            return _page(request, form, form_error=error.message, status=400)
        form.add_error(field, error.message)
        return _page(request, form, status=400)
    messages.success(
        request,
        f"{entry.address} added to your address book. For your security it can be used from "
        f"{entry.usable_from:%Y-%m-%d %H:%M} UTC ({usable_text(entry, now=timezone.now())}).",
    )
    return redirect("web:address_book")


@login_required
@require_POST
def address_remove(request: HttpRequest, entry_id: int) -> HttpResponse:
    try:
        withdrawal_address_remove(user=request.user, entry_id=entry_id)
    except NotFound:
        raise Http404("No such address in your address book") from None
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Address removed from your address book.")
    return redirect("web:address_book")


@login_required
@require_POST
def address_proof_start(request: HttpRequest, entry_id: int) -> HttpResponse:
    """Start (or restart) the Satoshi test of a self-hosted entry in the chosen asset."""
    try:
        entry = withdrawal_address_proof_start(
            user=request.user, entry_id=entry_id, asset_symbol=request.POST.get("asset", "").strip().upper()
        )
    except NotFound:
        raise Http404("No such address in your address book") from None
    except DomainError as error:
        messages.error(request, error.message)
    else:
        # Set by the service on success; the asserts narrow the types.
        assert entry.proof_asset is not None
        assert entry.proof_quantity is not None
        messages.success(
            request,
            f"Satoshi test started: send exactly {entry.proof_quantity.normalize():f} "
            f"{entry.proof_asset.symbol} from {entry.address} to your deposit address.",
        )
    return redirect(f"{reverse('web:address_book')}#proof-{entry_id}")


@login_required
@require_POST
def address_proof_demo_send(request: HttpRequest, entry_id: int) -> HttpResponse:
    """Demo only: the simulated chain sends the test amount from the entry's address to the user's
    deposit address, as the customer would from their wallet; the deposit proves control through
    the same service a real one does. Off in production."""
    if not settings.DEMO_DEPOSITS_ENABLED:
        raise Http404("Simulated deposits are off")
    entry = (
        WithdrawalAddress.objects.select_related("proof_asset").filter(pk=entry_id, user=request.user).first()
    )
    if entry is None:
        raise Http404("No such address in your address book")
    back = redirect(f"{reverse('web:address_book')}#proof-{entry_id}")
    if entry.is_proven or entry.proof_asset is None or entry.proof_quantity is None:
        messages.error(request, "Start a Satoshi test for this address first.")
        return back
    refusal = access_refusal(user=request.user, product=Product.DEPOSIT)
    if refusal is not None:
        messages.error(request, refusal)
        return back
    to_address = deposit_address_get_or_create(user_id=request.user.pk, blockchain=entry.blockchain).address
    try:
        deposit = SimulatedChain().simulate_incoming(
            to_address=to_address,
            asset_symbol=entry.proof_asset.symbol,
            blockchain=entry.blockchain,
            quantity=entry.proof_quantity,
            from_address=entry.address,
        )
    except DomainError as error:
        messages.error(request, error.message)
        return back
    entry.refresh_from_db()
    if entry.is_proven:
        messages.success(request, f"Test amount received: control of {entry.address} is proven.")
    else:
        messages.error(
            request,
            f"The simulated transfer arrived ({deposit.get_status_display().lower()}) but did not "
            "prove control of the address.",
        )
    return back
