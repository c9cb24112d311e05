"""Backpack API v1 routes. Paths match with or without a trailing slash, as clients differ."""

from __future__ import annotations

from django.urls import include, path

from accounts.api.views import AccountApi
from exchange.api.capital import CapitalBalancesApi
from exchange.api.public import (
    AssetListApi,
    MarketDetailApi,
    MarketListApi,
    PingApi,
    SecurityListApi,
    StatusApi,
    TimeApi,
)
from exchange.api.routing import route

urlpatterns = [
    route("api/v1/status", StatusApi, "api-status"),
    route("api/v1/ping", PingApi, "api-ping"),
    route("api/v1/time", TimeApi, "api-time"),
    route("api/v1/assets", AssetListApi, "api-assets"),
    route("api/v1/markets", MarketListApi, "api-markets"),
    route("api/v1/market", MarketDetailApi, "api-market"),
    route("api/v1/securities", SecurityListApi, "api-securities"),
    route("api/v1/capital", CapitalBalancesApi, "api-capital"),
    route("api/v1/account", AccountApi, "api-account"),
    path("", include("exchange.api.urls_orders")),
    path("", include("exchange.api.urls_market_data")),
    path("", include("exchange.api.urls_custody")),
]
