"""GET/PATCH /api/v1/account: Backpack's account settings and limits."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.account_settings import account_settings_update
from core.api_views import BackpackApi, body_object
from core.money import render


class StrictBooleanField(serializers.BooleanField):
    """JSON true/false only: DRF would also take "yes", 1 or "on", which no Backpack client sends."""

    def to_internal_value(self, data: object) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class AccountApi(BackpackApi):
    instructions = {"GET": "accountQuery", "PATCH": "accountUpdate"}

    class InputSerializer(serializers.Serializer):
        autoBorrowSettlements = StrictBooleanField(required=False)  # noqa: N815 (Backpack's names)
        autoLend = StrictBooleanField(required=False)  # noqa: N815
        autoRepayBorrows = StrictBooleanField(required=False)  # noqa: N815
        leverageLimit = serializers.DecimalField(  # noqa: N815
            max_digits=6, decimal_places=2, min_value=1, max_value=settings.MAX_LEVERAGE, required=False
        )

    def get(self, request: Request) -> Response:
        user = request.user
        fees = settings.DEFAULT_FEES
        return Response(
            {
                "autoBorrowSettlements": user.auto_borrow_settlements,
                "autoLend": user.auto_lend,
                "autoRealizePnl": True,
                "autoRepayBorrows": user.auto_repay_borrows,
                "borrowLimit": "0",
                "futuresMakerFee": fees["futures_maker"],
                "futuresTakerFee": fees["futures_taker"],
                "leverageLimit": render(user.leverage_limit),
                "limitOrders": settings.MAX_OPEN_LIMIT_ORDERS,
                "liquidating": False,
                "positionLimit": "0",
                "spotMakerFee": fees["spot_maker"],
                "spotTakerFee": fees["spot_taker"],
                "triggerOrders": settings.MAX_OPEN_TRIGGER_ORDERS,
            }
        )

    def patch(self, request: Request) -> HttpResponse:
        serializer = self.InputSerializer(data=body_object(request))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        account_settings_update(
            user=request.user,
            auto_borrow_settlements=data.get("autoBorrowSettlements"),
            auto_lend=data.get("autoLend"),
            auto_repay_borrows=data.get("autoRepayBorrows"),
            leverage_limit=data.get("leverageLimit"),
        )
        return HttpResponse(status=200)
