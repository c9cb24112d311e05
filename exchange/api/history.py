"""Signed history endpoints: the caller's own orders and fills (§6.8, §6.9 of the API reference).

Both only ever read rows of `request.user`; every filter narrows that set further.
"""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.session_authentication import SIGNED_OR_SESSION
from core.api_views import BackpackApi
from exchange.api.market_data import MAX_MILLISECONDS, PageInput, from_milliseconds, query_input
from exchange.api.order_json import fill_json, order_history_json
from exchange.selectors_market_data import fill_list_history, market_get_by_symbol, order_list_history

# Backpack's MarketType enum. Satchel lists SPOT and PERP markets; the others match nothing.
MARKET_TYPES = ("SPOT", "PERP", "IPERP", "DATED", "PREDICTION", "RFQ")
FILL_TYPES = (
    "User",
    "BookLiquidation",
    "Adl",
    "Backstop",
    "Liquidation",
    "AllLiquidation",
    "CollateralConversion",
    "CollateralConversionAndSpotLiquidation",
)
# Every fill Satchel records is a user's own order matching; no liquidation engine exists yet.
USER_FILL_TYPES = {"User"}
MAX_ORDER_ID = 2**63 - 1


class SortDirectionField(serializers.ChoiceField):
    """Asc|Desc, any case: Backpack's enum is capitalised but lower-case costs nothing to accept."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(choices=("Asc", "Desc"), required=False, default="Desc", **kwargs)

    def to_internal_value(self, data: object) -> str:
        return super().to_internal_value(data.capitalize() if isinstance(data, str) else data)


class MarketTypesField(serializers.Field):
    """`marketType` repeated and/or comma-separated (an array in Backpack's spec)."""

    def get_value(self, dictionary: object) -> object:
        values = dictionary.getlist(self.field_name) if hasattr(dictionary, "getlist") else []
        parts = [part.strip() for value in values for part in value.split(",") if part.strip()]
        return parts or serializers.empty

    def to_internal_value(self, data: object) -> list[str]:
        unknown = [value for value in data if value not in MARKET_TYPES]  # type: ignore[attr-defined]
        if unknown:
            raise serializers.ValidationError(f'"{unknown[0]}" is not a valid marketType.')
        return list(data)  # type: ignore[call-overload]


class HistoryInput(PageInput):
    orderId = serializers.IntegerField(min_value=1, max_value=MAX_ORDER_ID, required=False)  # noqa: N815
    strategyId = serializers.CharField(max_length=64, required=False)  # noqa: N815
    symbol = serializers.CharField(max_length=64, required=False)
    marketType = MarketTypesField(required=False)  # noqa: N815
    sortDirection = SortDirectionField()  # noqa: N815


def _market_id(params: dict[str, object]) -> int | None:
    if "symbol" not in params:
        return None
    # Hidden markets too: a market taken off the listing still has the caller's history.
    return market_get_by_symbol(symbol=str(params["symbol"]), visible_only=False).pk


class OrderHistoryApi(BackpackApi):
    instructions = {"GET": "orderHistoryQueryAll"}
    authentication_classes = SIGNED_OR_SESSION
    InputSerializer = HistoryInput

    def get(self, request: Request) -> Response:
        params = query_input(self.InputSerializer, request)
        market_id = _market_id(params)
        if "strategyId" in params:
            return Response([])  # no order belongs to a strategy: Satchel has none
        orders = order_list_history(
            user_id=request.user.pk,
            order_id=params.get("orderId"),
            market_id=market_id,
            market_types=params.get("marketType"),
            ascending=params["sortDirection"] == "Asc",
            limit=params["limit"],
            offset=params["offset"],
        )
        return Response([order_history_json(order) for order in orders])


# Built with type(): `from`, Backpack's name for the lower time bound, is a Python keyword.
FillHistoryInput = type(
    "FillHistoryInput",
    (HistoryInput,),
    {
        "from": serializers.IntegerField(min_value=0, max_value=MAX_MILLISECONDS, required=False),
        "to": serializers.IntegerField(min_value=0, max_value=MAX_MILLISECONDS, required=False),
        "fillType": serializers.ChoiceField(choices=FILL_TYPES, required=False),
    },
)


class FillHistoryApi(BackpackApi):
    instructions = {"GET": "fillHistoryQueryAll"}
    authentication_classes = SIGNED_OR_SESSION
    InputSerializer = FillHistoryInput

    def get(self, request: Request) -> Response:
        params = query_input(self.InputSerializer, request)
        market_id = _market_id(params)
        if "strategyId" in params or params.get("fillType", "User") not in USER_FILL_TYPES:
            return Response([])
        user_fills = fill_list_history(
            user_id=request.user.pk,
            order_id=params.get("orderId"),
            market_id=market_id,
            market_types=params.get("marketType"),
            since=from_milliseconds(params["from"]) if "from" in params else None,
            until=from_milliseconds(params["to"]) if "to" in params else None,
            ascending=params["sortDirection"] == "Asc",
            limit=params["limit"],
            offset=params["offset"],
        )
        return Response([fill_json(uf.fill, request.user.pk, is_maker=uf.is_maker) for uf in user_fills])
