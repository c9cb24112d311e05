"""Server-rendered web pages for the exchange (markets list so far)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from exchange.models import Market
from exchange.selectors import balances_for_user
from exchange.selectors_market_data import ticker_list


def _places(increment: Decimal) -> int:
    exponent = increment.normalize().as_tuple().exponent
    return max(0, -int(exponent))


def _fixed(value: Decimal, places: int) -> str:
    return f"{value:,.{places}f}"


def markets(request: HttpRequest) -> HttpResponse:
    rows = list(Market.objects.filter(visible=True).select_related("base", "quote").order_by("symbol"))
    stats = ticker_list(market_ids=[m.id for m in rows], window=timedelta(hours=24), now=timezone.now())
    table = []
    for market in rows:
        ticker = stats[market.id]
        price_places = _places(market.tick_size)
        change = (
            (ticker.last_price - ticker.first_price) / ticker.first_price * 100
            if ticker.first_price
            else Decimal(0)
        )
        table.append(
            {
                "market": market,
                "last": _fixed(ticker.last_price, price_places),
                "change": f"{change:+.2f}%",
                "change_sign": (change > 0) - (change < 0),
                "high": _fixed(ticker.high, price_places),
                "low": _fixed(ticker.low, price_places),
                "volume": _fixed(ticker.volume, _places(market.step_size)),
            }
        )
    return render(request, "exchange/markets.html", {"rows": table})


@login_required
def wallet(request: HttpRequest) -> HttpResponse:
    balances = balances_for_user(user_id=request.user.pk)
    return render(request, "exchange/wallet.html", {"balances": balances})
