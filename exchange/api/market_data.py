"""Public market data: depth, trades, tickers and klines (§5.8 to 5.11 of the API reference).

Query parameters go through an input serializer each: a malformed value is a 400
INVALID_CLIENT_REQUEST naming the parameter, an unknown symbol a 400 INVALID_SYMBOL, and unknown
extra parameters are ignored (clients send some, e.g. SDK B's `interval=1d` on tickers).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.utils import timezone
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api_views import BackpackApi
from core.errors import InvalidRequest
from core.money import render
from exchange.api.order_json import epoch_ms
from exchange.models import Market, Side
from exchange.selectors_market_data import (
    KLINE_INTERVALS,
    Kline,
    TickerStats,
    depth_get,
    kline_list,
    market_get_by_symbol,
    ticker_list,
    trade_list,
)

DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
DEPTH_DEFAULT_LIMIT = 1000
PAGE_DEFAULT_LIMIT = 100
PAGE_MAX_LIMIT = 1000
# OFFSET is a bigint in SQL; far below that, and far beyond any real history.
MAX_OFFSET = 2**31 - 1
# Request times beyond year 3000 are typos, and would overflow datetime arithmetic near year 9999.
MAX_SECONDS = 32_503_680_000
MAX_MILLISECONDS = MAX_SECONDS * 1000
# Candles per klines response. ccxt asks for 100 by default and pages on `since`; a longer range is
# answered with its first KLINES_MAX_CANDLES candles (as Binance does), not refused.
KLINES_MAX_CANDLES = 1000
TICKER_WINDOWS = {"1d": timedelta(days=1), "1w": timedelta(weeks=1)}
PRICE_TYPES = ("Last", "Mark", "Index")
# priceChangePercent is a fraction; Backpack shows six decimals ("-0.031279").
PERCENT_STEP = Decimal("0.000001")


def query_input(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """Validated query parameters; DRF's ValidationError becomes 400 INVALID_CLIENT_REQUEST."""
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class LimitInput(serializers.Serializer):
    limit = serializers.IntegerField(
        min_value=1, max_value=PAGE_MAX_LIMIT, required=False, default=PAGE_DEFAULT_LIMIT
    )


class PageInput(LimitInput):
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, required=False, default=0)


def from_seconds(value: int) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


def from_milliseconds(value: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=value)


def decimal_places(step: Decimal) -> int:
    """Decimals a multiple of `step` needs: 0.01 -> 2, 0.5 -> 1, 25 -> 0."""
    return max(0, -step.normalize().as_tuple().exponent)  # type: ignore[operator]


class SymbolInput(serializers.Serializer):
    symbol = serializers.CharField(max_length=64)


class DepthApi(BackpackApi):
    class InputSerializer(SymbolInput):
        limit = serializers.ChoiceField(choices=DEPTH_LIMITS, required=False, default=DEPTH_DEFAULT_LIMIT)

    def get(self, request: Request) -> Response:
        params = query_input(self.InputSerializer, request)
        market = market_get_by_symbol(symbol=params["symbol"])
        snapshot = depth_get(market_id=market.pk, limit=params["limit"])
        price_places = decimal_places(market.tick_size)
        quantity_places = decimal_places(market.step_size)

        def levels(side: list[tuple[Decimal, Decimal]]) -> list[list[str]]:
            return [[render(p, price_places), render(q, quantity_places)] for p, q in side]

        return Response(
            {
                "asks": levels(snapshot.asks),
                "bids": levels(snapshot.bids),
                "lastUpdateId": str(snapshot.last_update_id),
                # Microseconds: ccxt divides by 1000 and refuses a depth without it (§5.9).
                "timestamp": time.time_ns() // 1000,
            }
        )


def _trades_response(market: Market, limit: int, offset: int) -> Response:
    return Response(
        [
            {
                "id": trade.trade_id,
                "isBuyerMaker": trade.taker_side == Side.ASK,
                "price": render(trade.price),
                "quantity": render(trade.quantity),
                "quoteQuantity": render(trade.quote_quantity),
                "timestamp": epoch_ms(trade.created_at),
            }
            for trade in trade_list(market_id=market.pk, limit=limit, offset=offset)
        ]
    )


class TradeListApi(BackpackApi):
    class InputSerializer(SymbolInput, LimitInput):
        pass

    def get(self, request: Request) -> Response:
        params = query_input(self.InputSerializer, request)
        market = market_get_by_symbol(symbol=params["symbol"])
        return _trades_response(market, params["limit"], 0)


class TradeHistoryApi(BackpackApi):
    class InputSerializer(SymbolInput, PageInput):
        pass

    def get(self, request: Request) -> Response:
        params = query_input(self.InputSerializer, request)
        market = market_get_by_symbol(symbol=params["symbol"])
        return _trades_response(market, params["limit"], params["offset"])


def ticker_json(market: Market, stats: TickerStats) -> dict[str, Any]:
    change = stats.last_price - stats.first_price
    percent = Decimal(0)
    if stats.first_price:
        percent = (change / stats.first_price).quantize(PERCENT_STEP, ROUND_HALF_EVEN)
    return {
        "symbol": market.symbol,
        "firstPrice": render(stats.first_price),
        "lastPrice": render(stats.last_price),
        "priceChange": render(change),
        "priceChangePercent": render(percent),
        "high": render(stats.high),
        "low": render(stats.low),
        "volume": render(stats.volume),
        "quoteVolume": render(stats.quote_volume),
        "trades": str(stats.trades),
    }


class TickerIntervalInput(serializers.Serializer):
    interval = serializers.ChoiceField(choices=tuple(TICKER_WINDOWS), required=False, default="1d")


class TickerApi(BackpackApi):
    class InputSerializer(SymbolInput, TickerIntervalInput):
        pass

    def get(self, request: Request) -> Response:
        params = query_input(self.InputSerializer, request)
        market = market_get_by_symbol(symbol=params["symbol"])
        stats = ticker_list(
            market_ids=[market.pk], window=TICKER_WINDOWS[params["interval"]], now=timezone.now()
        )
        return Response(ticker_json(market, stats[market.pk]))


class TickerListApi(BackpackApi):
    InputSerializer = TickerIntervalInput

    def get(self, request: Request) -> Response:
        params = query_input(self.InputSerializer, request)
        markets = list(Market.objects.filter(visible=True).order_by("symbol"))
        stats = ticker_list(
            market_ids=[m.pk for m in markets], window=TICKER_WINDOWS[params["interval"]], now=timezone.now()
        )
        return Response([ticker_json(market, stats[market.pk]) for market in markets])


def _kline_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def kline_json(kline: Kline) -> dict[str, str]:
    return {
        "start": _kline_time(kline.start),
        "end": _kline_time(kline.end),
        "open": render(kline.open),
        "high": render(kline.high),
        "low": render(kline.low),
        "close": render(kline.close),
        "volume": render(kline.volume),
        "quoteVolume": render(kline.quote_volume),
        "trades": str(kline.trades),
    }


class KlineListApi(BackpackApi):
    class InputSerializer(SymbolInput):
        interval = serializers.ChoiceField(choices=KLINE_INTERVALS)
        startTime = serializers.IntegerField(min_value=0, max_value=MAX_SECONDS)  # noqa: N815 (Backpack's names)
        endTime = serializers.IntegerField(min_value=0, max_value=MAX_SECONDS, required=False)  # noqa: N815
        priceType = serializers.ChoiceField(choices=PRICE_TYPES, required=False, default="Last")  # noqa: N815

    def get(self, request: Request) -> Response:
        params = query_input(self.InputSerializer, request)
        market = market_get_by_symbol(symbol=params["symbol"])
        start = from_seconds(params["startTime"])
        if "endTime" in params:
            end = from_seconds(params["endTime"])
            if end < start:
                raise InvalidRequest("endTime must not be before startTime")
        else:
            # A start a little ahead of this clock (client clock skew) is an empty range, not an error.
            end = max(timezone.now(), start)
        if params["priceType"] != "Last":
            # No mark or index price series is recorded yet. An empty list is a valid "no candles"
            # answer every client handles (ccxt returns []); an error would break charting code
            # that asks for all three series.
            return Response([])
        klines = kline_list(
            market_id=market.pk,
            interval=params["interval"],
            start=start,
            end=end,
            limit=KLINES_MAX_CANDLES,
        )
        return Response([kline_json(kline) for kline in klines])
