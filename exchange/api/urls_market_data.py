"""Routes: public market data (depth, trades, tickers, klines) and the signed order/fill history."""

from __future__ import annotations

from exchange.api.history import FillHistoryApi, OrderHistoryApi
from exchange.api.market_data import (
    DepthApi,
    KlineListApi,
    TickerApi,
    TickerListApi,
    TradeHistoryApi,
    TradeListApi,
)
from exchange.api.routing import route

urlpatterns = [
    route("api/v1/depth", DepthApi, "api-depth"),
    route("api/v1/trades", TradeListApi, "api-trades"),
    route("api/v1/trades/history", TradeHistoryApi, "api-trades-history"),
    route("api/v1/ticker", TickerApi, "api-ticker"),
    route("api/v1/tickers", TickerListApi, "api-tickers"),
    route("api/v1/klines", KlineListApi, "api-klines"),
    route("wapi/v1/history/orders", OrderHistoryApi, "api-history-orders"),
    route("wapi/v1/history/fills", FillHistoryApi, "api-history-fills"),
]
