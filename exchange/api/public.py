"""Public market data endpoints (no signature)."""

from __future__ import annotations

import time

from django.http import HttpResponse
from rest_framework.request import Request
from rest_framework.response import Response

from core.api_views import BackpackApi, query_param
from core.errors import InvalidRequest
from exchange.api.presenters import asset_json, market_json
from exchange.models import Asset, Market, MarketType
from exchange.selectors_market_data import market_get_by_symbol


class StatusApi(BackpackApi):
    def get(self, request: Request) -> Response:
        return Response({"status": "Ok", "message": None})


class PingApi(BackpackApi):
    def get(self, request: Request) -> HttpResponse:
        return HttpResponse("pong", content_type="text/plain; charset=utf-8")


class TimeApi(BackpackApi):
    def get(self, request: Request) -> HttpResponse:
        return HttpResponse(str(time.time_ns() // 1_000_000), content_type="text/plain; charset=utf-8")


class AssetListApi(BackpackApi):
    def get(self, request: Request) -> Response:
        assets = Asset.objects.prefetch_related("tokens").order_by("symbol")
        return Response([asset_json(asset) for asset in assets])


def _markets() -> list[Market]:
    return list(Market.objects.select_related("base", "quote").filter(visible=True).order_by("symbol"))


class MarketListApi(BackpackApi):
    def get(self, request: Request) -> Response:
        wanted = {value for value in request.query_params.getlist("marketType") if value}
        unknown = wanted - set(MarketType.values)
        if unknown:
            raise InvalidRequest(f"Unknown marketType {sorted(unknown)[0]}")
        return Response([market_json(m) for m in _markets() if not wanted or m.market_type in wanted])


class MarketDetailApi(BackpackApi):
    def get(self, request: Request) -> Response:
        symbol = query_param(request, "symbol", required=True)
        return Response(market_json(market_get_by_symbol(symbol=symbol)))  # type: ignore[arg-type]


class SecurityListApi(BackpackApi):
    """Tokenised securities: none are listed. ccxt's loadMarkets needs this to answer 200 `[]`."""

    def get(self, request: Request) -> Response:
        return Response([])
