"""Signed capital endpoints for custody: deposit address, deposit and withdrawal history, withdraw.

Every read is scoped to the signing account. Times in queries are Unix milliseconds; `createdAt`
in answers is naive ISO (UTC), as ccxt parses it with parse8601.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.session_authentication import SIGNED_OR_SESSION
from accounts.kyc_tiers import Product
from accounts.services.access import access_require
from core.api_views import BackpackApi, body_object, query_param
from core.errors import InvalidRequest
from core.money import parse_decimal
from exchange.api.presenters import dec, naive_iso
from exchange.models import DEPOSIT_API_STATUS, WITHDRAWAL_API_STATUS, Deposit, Withdrawal
from exchange.services.deposit_addresses import deposit_address_get_or_create
from exchange.services.withdrawals import withdrawal_request

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# 9999-12-31T23:59:59.999Z: the last millisecond a datetime can hold.
MAX_TIMESTAMP_MS = 253_402_300_799_999
_UNSIGNED_RE = re.compile(r"[0-9]{1,19}")


# --- presenters -------------------------------------------------------------------------------


def deposit_json(deposit: Deposit) -> dict[str, Any]:
    return {
        "id": deposit.pk,
        "toAddress": deposit.to_address or None,
        "fromAddress": deposit.from_address or None,
        "source": deposit.source,
        "status": DEPOSIT_API_STATUS.get(deposit.status, deposit.status),  # held shows as pending
        "transactionHash": deposit.transaction_hash or None,
        "symbol": deposit.asset.symbol,
        "quantity": dec(deposit.quantity),
        "createdAt": naive_iso(deposit.created_at),
        "fiatAmount": None,
        "fiatCurrency": None,
        "institutionBic": None,
        "platformMemo": None,
    }


def withdrawal_json(withdrawal: Withdrawal) -> dict[str, Any]:
    return {
        "id": withdrawal.pk,
        "blockchain": withdrawal.blockchain,
        "clientId": withdrawal.client_id or None,
        "identifier": None,
        "quantity": dec(withdrawal.quantity),
        "fee": dec(withdrawal.fee),
        "fiatFee": None,
        "fiatState": None,
        "fiatSymbol": None,
        "providerId": None,
        "symbol": withdrawal.asset.symbol,
        "status": WITHDRAWAL_API_STATUS[withdrawal.status],
        "subaccountId": None,
        "toAddress": withdrawal.to_address,
        "transactionHash": withdrawal.transaction_hash or None,
        "createdAt": naive_iso(withdrawal.created_at),
        "isInternal": False,
        "bankName": None,
        "bankIdentifier": None,
        "accountIdentifier": None,
        "triggerAt": None,
    }


# --- query parameters -------------------------------------------------------------------------


def _unsigned_param(request: Request, name: str, *, maximum: int) -> int | None:
    value = query_param(request, name)
    if value is None:
        return None
    if not _UNSIGNED_RE.fullmatch(value) or int(value) > maximum:
        raise InvalidRequest(f"{name} must be an integer from 0 to {maximum}")
    return int(value)


def _moment(milliseconds: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=milliseconds)


def _history_page(
    request: Request, queryset: QuerySet[Any], *, until_params: tuple[str, ...]
) -> QuerySet[Any]:
    """`from`/`until_params` (ms, inclusive), newest first, then `offset` and `limit` (≤ 1000)."""
    since = _unsigned_param(request, "from", maximum=MAX_TIMESTAMP_MS)
    if since is not None:
        queryset = queryset.filter(created_at__gte=_moment(since))
    for name in until_params:
        until = _unsigned_param(request, name, maximum=MAX_TIMESTAMP_MS)
        if until is not None:
            # Inclusive to the millisecond: stored times carry microseconds.
            queryset = queryset.filter(created_at__lt=_moment(until + 1))
    limit = _unsigned_param(request, "limit", maximum=MAX_LIMIT)
    limit = DEFAULT_LIMIT if limit is None else limit
    offset = _unsigned_param(request, "offset", maximum=2**31 - 1) or 0
    return queryset.order_by("-created_at", "-id")[offset : offset + limit]


# --- views ------------------------------------------------------------------------------------


class DepositAddressApi(BackpackApi):
    instructions = {"GET": "depositAddressQuery"}
    authentication_classes = SIGNED_OR_SESSION

    def get(self, request: Request) -> Response:
        blockchain = query_param(request, "blockchain", required=True)
        access_require(user=request.user, product=Product.DEPOSIT)
        address = deposit_address_get_or_create(user_id=request.user.pk, blockchain=blockchain or "")
        return Response({"address": address.address})


class DepositListApi(BackpackApi):
    instructions = {"GET": "depositQueryAll"}
    authentication_classes = SIGNED_OR_SESSION

    def get(self, request: Request) -> Response:
        deposits = Deposit.objects.filter(user_id=request.user.pk).select_related("asset")
        # ccxt sends its `until` as endTime; Backpack documents `to`. Both bound the range.
        page = _history_page(request, deposits, until_params=("to", "endTime"))
        return Response([deposit_json(deposit) for deposit in page])


class StrictCharField(serializers.CharField):
    """JSON strings only: DRF's CharField would also turn numbers into text."""

    def to_internal_value(self, data: object) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class TextOrIntegerField(serializers.Field):
    """A string or a JSON integer, as text: clients send clientId either way (reference §6.11)."""

    default_error_messages = {"invalid": "Must be a string or an integer."}

    def to_internal_value(self, data: object) -> str:
        if isinstance(data, bool) or not isinstance(data, str | int):
            self.fail("invalid")
        return str(data)

    def to_representation(self, value: str) -> str:
        return value


class DecimalTextField(serializers.Field):
    """A decimal as a JSON string, integer or exact number (Decimal, as the project's JSON parser
    reads them); a float is refused, having already lost the digits the client meant."""

    default_error_messages = {"invalid": "Must be a decimal string."}

    def to_internal_value(self, data: object) -> Decimal:
        try:
            return parse_decimal(data)
        except ValueError:
            self.fail("invalid")
            raise  # unreachable: fail() raises

    def to_representation(self, value: Decimal) -> str:
        return f"{value:f}"


class DisabledBooleanField(serializers.BooleanField):
    """A boolean that may only be false: the feature behind it does not exist yet."""

    default_error_messages = {"unsupported": "Not supported yet; send false or leave it out."}

    def to_internal_value(self, data: object) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        if data:
            self.fail("unsupported")
        return data


class WithdrawalsApi(BackpackApi):
    instructions = {"GET": "withdrawalQueryAll", "POST": "withdraw"}
    authentication_classes = SIGNED_OR_SESSION

    class InputSerializer(serializers.Serializer):
        address = StrictCharField(max_length=255)
        blockchain = StrictCharField(max_length=64)
        quantity = DecimalTextField()
        symbol = StrictCharField(max_length=32)
        clientId = TextOrIntegerField(required=False, allow_null=True)  # noqa: N815 (Backpack's names)
        twoFactorToken = TextOrIntegerField(required=False, allow_null=True)  # noqa: N815
        autoBorrow = DisabledBooleanField(required=False)  # noqa: N815
        autoLendRedeem = DisabledBooleanField(required=False)  # noqa: N815
        # Travel-rule details (IVMS101) for the beneficiary: accepted, not stored yet.
        recipientInformation = serializers.DictField(required=False, allow_null=True)  # noqa: N815

    def get(self, request: Request) -> Response:
        withdrawals = Withdrawal.objects.filter(user_id=request.user.pk).select_related("asset")
        withdrawal_id = _unsigned_param(request, "id", maximum=2**63 - 1)
        if withdrawal_id is not None:
            withdrawals = withdrawals.filter(pk=withdrawal_id)
        client_id = query_param(request, "clientId")
        if client_id is not None:
            withdrawals = withdrawals.filter(client_id=client_id)
        page = _history_page(request, withdrawals, until_params=("to",))
        return Response([withdrawal_json(withdrawal) for withdrawal in page])

    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=body_object(request))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        withdrawal = withdrawal_request(
            user=request.user,
            asset_symbol=data["symbol"],
            blockchain=data["blockchain"],
            address=data["address"],
            quantity=data["quantity"],
            client_id=data.get("clientId") or "",
            two_factor_token=data.get("twoFactorToken"),
        )
        return Response(withdrawal_json(withdrawal))
