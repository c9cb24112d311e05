"""The wallet page: balances, a deposit address per asset and chain, deposit and withdrawal history,
the withdrawal form (with the two-factor code) and, in the demo only, a simulated deposit.

The withdrawal goes through `withdrawal_request`, the same service the API calls: every control it
applies (2FA, tiers, limits, address book, travel rule...) applies here, and whatever DomainError it
raises is shown next to the field it is about, or above the form. The form picks the destination
from the address book (exchange/web/addresses.py) or takes a new one, which the service adds to
the book with its waiting period.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.kyc_tiers import Product
from accounts.services.access import access_refusal
from core.errors import DomainError, InsufficientFunds, InvalidAsset, InvalidQuantity
from exchange.chain.simulated import SimulatedChain
from exchange.models import AssetToken, Deposit, Withdrawal, WithdrawalAddress, WithdrawalStatus
from exchange.selectors import balances_for_user
from exchange.services.deposit_addresses import deposit_address_get_or_create
from exchange.services.withdrawals import four_eyes_threshold_eur, withdrawal_request
from exchange.web.addresses import entry_rows, period_text
from exchange.web.formatting import grouped

HISTORY_ROWS = 50
WITHDRAW_FIELDS = ("entry", "asset", "blockchain", "address", "quantity", "twoFactorToken")


class WithdrawForm(forms.Form):
    """Field names are the API's (`twoFactorToken`), so the page, its tests and the API agree.

    `entry` picks an address-book entry (its network and address are used); without one the typed
    network and address are, and a new address joins the book with its waiting period.
    """

    entry = forms.IntegerField(required=False, min_value=1)
    asset = forms.CharField(max_length=32)
    blockchain = forms.CharField(max_length=64, required=False)
    address = forms.CharField(max_length=255, required=False)
    quantity = forms.DecimalField(max_digits=38, decimal_places=18, min_value=Decimal(0))
    twoFactorToken = forms.CharField(max_length=16, required=False)  # noqa: N815 (the API's name)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("entry") is None and "entry" not in self.errors:
            for name in ("blockchain", "address"):
                if not (data.get(name) or "").strip() and name not in self.errors:
                    self.add_error(name, "This field is required.")
        return data


class DemoDepositForm(forms.Form):
    token = forms.CharField(max_length=64)
    quantity = forms.DecimalField(max_digits=38, decimal_places=18, min_value=Decimal(0))


def withdrawal_error_field(error: DomainError) -> str | None:
    """The form field a service refusal is about, or None for a form-wide error.

    A DomainError may name its field (`error.field`); otherwise the code, then the message, tells:
    the service is being extended (address book, travel rule, limits) and new refusals must land
    somewhere sensible without this page knowing each one.
    """
    named = getattr(error, "field", None)
    if named in WITHDRAW_FIELDS:
        return str(named)
    message = error.message.lower()
    # Every two-factor refusal carries INVALID_TWO_FACTOR_CODE. No "2fa" substring test: messages
    # quote the user's address, and a base58 or hex address may spell "2fa" ("...b2Fa...").
    if error.code == "INVALID_TWO_FACTOR_CODE" or "two-factor" in message:
        return "twoFactorToken"
    if "address" in message:
        return "address"
    if isinstance(error, InvalidQuantity | InsufficientFunds) or "quantity" in message:
        return "quantity"
    if isinstance(error, InvalidAsset):
        return "asset"
    if "blockchain" in message or "chain" in message:
        return "blockchain"
    return None


def _tokens() -> list[AssetToken]:
    return list(AssetToken.objects.select_related("asset").order_by("asset__symbol", "blockchain"))


def _selected_token(tokens: list[AssetToken], value: str | None) -> AssetToken | None:
    depositable = [t for t in tokens if t.deposit_enabled]
    for token in depositable:
        if value == f"{token.asset.symbol}:{token.blockchain}":
            return token
    return depositable[0] if depositable else None


def _page(request: HttpRequest, form: WithdrawForm, form_error: str = "", status: int = 200) -> HttpResponse:
    user_id = request.user.pk
    tokens = _tokens()
    selected = _selected_token(tokens, request.GET.get("token"))
    # The same gate as GET /wapi/v1/capital/deposit/address: no address below the deposit tier.
    deposit_refusal = access_refusal(user=request.user, product=Product.DEPOSIT)
    address = (
        deposit_address_get_or_create(user_id=user_id, blockchain=selected.blockchain).address
        if selected is not None and deposit_refusal is None
        else ""
    )
    decimals = {t.asset.symbol: t.asset.decimals for t in tokens}
    balances = [
        {
            "asset": symbol,
            **{kind: grouped(amount, decimals.get(symbol, 8)) for kind, amount in buckets.items()},
            "total": grouped(buckets["available"] + buckets["locked"], decimals.get(symbol, 8)),
        }
        for symbol, buckets in balances_for_user(user_id=user_id).items()
    ]
    deposits = Deposit.objects.filter(user_id=user_id).select_related("asset").order_by("-created_at", "-id")
    withdrawals = (
        Withdrawal.objects.filter(user_id=user_id).select_related("asset").order_by("-created_at", "-id")
    )
    entries = entry_rows(request.user)
    four_eyes = f"{four_eyes_threshold_eur():,.2f}"
    context: dict[str, Any] = {
        "entries": entries,
        "waiting_period": period_text(),
        "four_eyes_threshold": four_eyes,
        "balances": balances,
        "tokens": tokens,
        "assets": sorted({t.asset.symbol for t in tokens}),
        "blockchains": sorted({t.blockchain for t in tokens}),
        "selected": selected,
        "deposit_address": address,
        "deposit_refusal": deposit_refusal or "",
        "deposits": [
            {"row": d, "quantity": grouped(d.quantity, d.asset.decimals)} for d in deposits[:HISTORY_ROWS]
        ],
        "withdrawals": [
            {
                "row": w,
                "quantity": grouped(w.quantity, w.asset.decimals),
                "fee": grouped(w.fee, w.asset.decimals),
                "why": withdrawal_status_reason(w, four_eyes_threshold=four_eyes),
            }
            for w in withdrawals[:HISTORY_ROWS]
        ],
        "form": form,
        "form_error": form_error,
        "demo_deposits": settings.DEMO_DEPOSITS_ENABLED,
    }
    return render(request, "exchange/wallet.html", context, status=status)


def withdrawal_status_reason(withdrawal: Withdrawal, *, four_eyes_threshold: str) -> str:
    """Why a withdrawal waits or was refused, in the customer's words ('' when there is nothing to say)."""
    if withdrawal.status == WithdrawalStatus.HELD:
        worth = f"worth {withdrawal.value_eur:,.2f} EUR, " if withdrawal.value_eur is not None else ""
        approved = " One approval given, one to go." if withdrawal.first_approved_by_id else ""
        return (
            f"{worth}above {four_eyes_threshold} EUR: two compliance officers must approve it "
            f"before it is sent.{approved}"
        )
    if withdrawal.status in (WithdrawalStatus.REJECTED, WithdrawalStatus.FAILED) and withdrawal.reason:
        return withdrawal.reason
    return ""


@login_required
def wallet(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request, WithdrawForm())
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    data = form.cleaned_data
    blockchain, address = data["blockchain"], data["address"]
    if data["entry"] is not None:
        # Scoped to the user: another customer's entry id is just "not in your book".
        entry = WithdrawalAddress.objects.filter(pk=data["entry"], user=request.user).first()
        if entry is None:
            form.add_error("entry", "Choose an address from your address book.")
            return _page(request, form, status=400)
        blockchain, address = entry.blockchain, entry.address
    try:
        withdrawal = withdrawal_request(
            user=request.user,
            asset_symbol=data["asset"].strip().upper(),
            blockchain=blockchain.strip(),
            address=address,
            quantity=data["quantity"],
            two_factor_token=data["twoFactorToken"] or None,
        )
    except DomainError as error:
        field = withdrawal_error_field(error)
        if data["entry"] is not None and field in {"address", "blockchain"}:
            field = "entry"  # the picked entry supplied both: its refusal goes next to the picker
        if field is None:
            return _page(request, form, form_error=error.message, status=400)
        form.add_error(field, error.message)
        return _page(request, form, status=400)
    messages.success(
        request,
        f"Withdrawal {withdrawal.pk} of {withdrawal.quantity.normalize():f} {withdrawal.asset.symbol} "
        f"requested ({withdrawal.get_status_display().lower()}).",
    )
    return redirect("web:wallet")


@login_required
@require_POST
def demo_deposit(request: HttpRequest) -> HttpResponse:
    """Demo only: the simulated chain sends funds to the user's own deposit address, exactly as a
    real transfer would arrive (same service, same ledger posting). Off in production."""
    if not settings.DEMO_DEPOSITS_ENABLED:
        raise Http404("Simulated deposits are off")
    refusal = access_refusal(user=request.user, product=Product.DEPOSIT)
    if refusal is not None:
        messages.error(request, refusal)
        return redirect("web:wallet")
    form = DemoDepositForm(request.POST)
    token = _selected_token(_tokens(), request.POST.get("token")) if form.is_valid() else None
    if token is None or request.POST.get("token") != f"{token.asset.symbol}:{token.blockchain}":
        messages.error(request, "Choose an asset and a quantity to deposit.")
        return redirect("web:wallet")
    address = deposit_address_get_or_create(user_id=request.user.pk, blockchain=token.blockchain)
    try:
        deposit = SimulatedChain().simulate_incoming(
            to_address=address.address,
            asset_symbol=token.asset.symbol,
            blockchain=token.blockchain,
            quantity=form.cleaned_data["quantity"],
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            f"Simulated deposit of {deposit.quantity.normalize():f} {token.asset.symbol} "
            f"on {token.blockchain}: {deposit.get_status_display().lower()}.",
        )
    return redirect(f"{reverse('web:wallet')}?token={token.asset.symbol}:{token.blockchain}")
