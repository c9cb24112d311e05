"""Server-rendered exchange pages: the markets list and the trading page.

The trading page is rendered complete (book, trades, the user's orders, fills and balances) so it is
readable before any JavaScript runs; static/js/trade.js then keeps it live from the same REST API
and WebSocket streams API clients use. Rows are built from the API's own presenters, so a row the
server renders and one the script renders from a REST answer show the same numbers.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from accounts.kyc_tiers import Product, tier_allows
from accounts.services.access import access_product, access_refusal
from core.errors import InvalidSymbol
from core.money import parse_decimal
from exchange.api.order_json import fill_json, order_history_json, order_json
from exchange.models import OPEN_STATUSES, Market, Order
from exchange.selectors import balances_for_user
from exchange.selectors_market_data import (
    KLINE_INTERVALS,
    depth_get,
    fill_list_history,
    market_get_by_symbol,
    order_list_history,
    ticker_list,
    trade_list,
)
from exchange.web.formatting import fixed, grouped, places

BOOK_LEVELS = 15
RECENT_TRADES = 50
HISTORY_ROWS = 50
DEFAULT_INTERVAL = "1m"
# Intervals the chart offers: the API serves more (1s, 3d...), these are the ones a person picks.
CHART_INTERVALS = tuple(i for i in ("1m", "5m", "15m", "1h", "4h", "1d", "1w") if i in KLINE_INTERVALS)


def markets(request: HttpRequest) -> HttpResponse:
    rows = list(Market.objects.filter(visible=True).select_related("base", "quote").order_by("symbol"))
    stats = ticker_list(market_ids=[m.id for m in rows], window=timedelta(hours=24), now=timezone.now())
    table = []
    for market in rows:
        ticker = stats[market.id]
        price_places = places(market.tick_size)
        change = (
            (ticker.last_price - ticker.first_price) / ticker.first_price * 100
            if ticker.first_price
            else Decimal(0)
        )
        table.append(
            {
                "market": market,
                "url": reverse("web:trade", args=[market.symbol]),
                "last": grouped(ticker.last_price, price_places),
                "change": f"{change:+.2f}%",
                "change_sign": (change > 0) - (change < 0),
                "high": grouped(ticker.high, price_places),
                "low": grouped(ticker.low, price_places),
                "volume": grouped(ticker.volume, places(market.step_size)),
            }
        )
    return render(request, "exchange/markets.html", {"rows": table})


def _amount(value: str | None, decimals: int) -> str:
    return "" if value is None else fixed(parse_decimal(value), decimals)


def order_row(data: dict[str, Any], price_places: int, quantity_places: int) -> dict[str, Any]:
    """An order as the open-orders and order-history tables show it (from the API's JSON)."""
    return {
        "id": data["id"],
        "side": data["side"],
        "type": data["orderType"],
        "price": _amount(data.get("price"), price_places) or "Market",
        "quantity": _amount(data.get("quantity"), quantity_places),
        "filled": _amount(data.get("executedQuantity"), quantity_places),
        "status": data["status"],
    }


def fill_row(data: dict[str, Any], price_places: int, quantity_places: int) -> dict[str, Any]:
    return {
        "trade_id": data["tradeId"],
        "order_id": data["orderId"],
        "side": data["side"],
        "price": _amount(data["price"], price_places),
        "quantity": _amount(data["quantity"], quantity_places),
        "fee": f"{data['fee']} {data['feeSymbol']}",
        "liquidity": "Maker" if data["isMaker"] else "Taker",
        "time": data["timestamp"].replace("T", " ")[:19],
    }


def _private_context(user_id: int, market: Market, price_places: int, quantity_places: int) -> dict[str, Any]:
    open_orders = (
        Order.objects.filter(user_id=user_id, market=market, status__in=OPEN_STATUSES)
        .select_related("market")
        .order_by("-id")
    )
    history = order_list_history(user_id=user_id, market_id=market.pk, limit=HISTORY_ROWS)
    fills = fill_list_history(user_id=user_id, market_id=market.pk, limit=HISTORY_ROWS)
    balances = balances_for_user(user_id=user_id)
    zero = Decimal(0)
    balance_rows = []
    for asset in (market.base, market.quote):
        buckets = balances.get(asset.symbol, {})
        available, locked = buckets.get("available", zero), buckets.get("locked", zero)
        balance_rows.append(
            {
                "asset": asset.symbol,
                "available": fixed(available, asset.decimals),
                "locked": fixed(locked, asset.decimals),
                "total": fixed(available + locked, asset.decimals),
            }
        )
    return {
        "open_orders": [order_row(order_json(o), price_places, quantity_places) for o in open_orders],
        "order_history": [order_row(order_history_json(o), price_places, quantity_places) for o in history],
        "fills": [
            fill_row(fill_json(uf.fill, user_id, is_maker=uf.is_maker), price_places, quantity_places)
            for uf in fills
        ],
        "balances": balance_rows,
    }


def trade(request: HttpRequest, symbol: str) -> HttpResponse:
    """The trading page of one market. Public: anyone sees the book, chart and trades; the order
    form and the account tables are for the logged-in user, and show only their own rows."""
    try:
        market = market_get_by_symbol(symbol=symbol)
    except InvalidSymbol:
        raise Http404(f"Unknown market {symbol}") from None
    price_places, quantity_places = places(market.tick_size), places(market.step_size)
    snapshot = depth_get(market_id=market.pk, limit=BOOK_LEVELS)

    def levels(side: list[tuple[Decimal, Decimal]]) -> list[dict[str, str]]:
        return [{"price": fixed(p, price_places), "quantity": fixed(q, quantity_places)} for p, q in side]

    trades = [
        {
            "id": t.trade_id,
            "price": fixed(t.price, price_places),
            "quantity": fixed(t.quantity, quantity_places),
            "side": "Bid" if t.taker_side == "Bid" else "Ask",
            "time": t.created_at.strftime("%H:%M:%S"),
        }
        for t in trade_list(market_id=market.pk, limit=RECENT_TRADES)
    ]
    authenticated = bool(request.user.is_authenticated)
    config = {
        "symbol": market.symbol,
        "base": market.base.symbol,
        "quote": market.quote.symbol,
        "baseDecimals": market.base.decimals,
        "quoteDecimals": market.quote.decimals,
        "pricePlaces": price_places,
        "quantityPlaces": quantity_places,
        "tickSize": f"{market.tick_size.normalize():f}",
        "stepSize": f"{market.step_size.normalize():f}",
        "minQuantity": f"{market.min_quantity.normalize():f}",
        "bookLevels": BOOK_LEVELS,
        "historyRows": HISTORY_ROWS,
        "recentTrades": RECENT_TRADES,
        "intervals": list(CHART_INTERVALS),
        "interval": DEFAULT_INTERVAL,
        "authenticated": authenticated,
        "lastUpdateId": snapshot.last_update_id,
    }
    context: dict[str, Any] = {
        "market": market,
        "config": config,
        "intervals": CHART_INTERVALS,
        "default_interval": DEFAULT_INTERVAL,
        # Best ask next to the spread: the asks table lists them highest first.
        "asks": list(reversed(levels(snapshot.asks))),
        "bids": list(reversed(levels(snapshot.bids))),
        "trades": trades,
    }
    if authenticated:
        context.update(_private_context(request.user.pk, market, price_places, quantity_places))
        # Said before the user fills the form in; the order API gives the same refusal.
        context["refusal"] = access_refusal(user=request.user, product=Product.TRADE_SPOT, market=market)
        product = access_product(product=Product.TRADE_SPOT, market=market)
        context["refusal_is_verification"] = not tier_allows(request.user.kyc_level, product)
    return render(request, "exchange/trade.html", context)
