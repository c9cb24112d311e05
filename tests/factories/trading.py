"""Orders, fills, candles and market state inserted directly, as the market worker would leave them.

For read-side tests only (depth, trades, tickers, klines, history): nothing here reserves funds,
posts to the ledger or runs the matching engine. `trade_make` keeps fills, candles and
`MarketState` consistent with each other the way the worker's batch transaction does.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, Max
from django.utils import timezone

from exchange.models import (
    Candle,
    Fill,
    Market,
    MarketState,
    Order,
    OrderStatus,
    OrderType,
    Side,
)

_sequence = itertools.count(1)


def market_get(symbol: str) -> Market:
    return Market.objects.select_related("base", "quote").get(symbol=symbol)


def _decimal(value: Decimal | str | int | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def order_make(
    *,
    user: Any,
    market: Market,
    side: str = Side.BID,
    order_type: str = OrderType.LIMIT,
    price: Decimal | str | None = None,
    quantity: Decimal | str | None = None,
    executed_quantity: Decimal | str = "0",
    executed_quote_quantity: Decimal | str = "0",
    status: str = OrderStatus.NEW,
    is_applied: bool = True,
    created_at: datetime | None = None,
    **fields: Any,
) -> Order:
    """An order row; a limit order resting on the book unless status/is_applied say otherwise."""
    moment = created_at or timezone.now()
    for name, value in fields.items():
        if value is not None and isinstance(Order._meta.get_field(name), DecimalField):
            fields[name] = Decimal(value)
    return Order.objects.create(
        market=market,
        user=user,
        side=side,
        order_type=order_type,
        price=_decimal(price),
        quantity=_decimal(quantity),
        executed_quantity=Decimal(executed_quantity),
        executed_quote_quantity=Decimal(executed_quote_quantity),
        status=status,
        is_applied=is_applied,
        locked_asset=market.quote if side == Side.BID else market.base,
        sequence=next(_sequence),
        created_at=moment,
        updated_at=moment,
        **fields,
    )


def fill_make(
    *,
    maker_order: Order,
    taker_order: Order,
    price: Decimal | str,
    quantity: Decimal | str,
    created_at: datetime | None = None,
    trade_id: int | None = None,
    maker_fee: Decimal | str = "0",
    taker_fee: Decimal | str = "0",
) -> Fill:
    """One trade between two orders of the same market. Fees are in what each side receives (the
    buyer pays in base, the seller in quote), as exchange/services/settlement.py charges them;
    trade ids continue the market's sequence. No candle: see `fill_record_in_candle`."""
    fill_market = maker_order.market
    if trade_id is None:
        trade_id = (Fill.objects.filter(market=fill_market).aggregate(top=Max("trade_id"))["top"] or 0) + 1
    price, quantity = Decimal(price), Decimal(quantity)

    def received(order: Order) -> Any:
        return fill_market.base if order.side == Side.BID else fill_market.quote

    return Fill.objects.create(
        market=fill_market,
        trade_id=trade_id,
        price=price,
        quantity=quantity,
        quote_quantity=price * quantity,
        taker_side=taker_order.side,
        maker_order=maker_order,
        taker_order=taker_order,
        maker_user=maker_order.user,
        taker_user=taker_order.user,
        maker_fee=Decimal(maker_fee),
        maker_fee_asset=received(maker_order),
        taker_fee=Decimal(taker_fee),
        taker_fee_asset=received(taker_order),
        sequence=next(_sequence),
        created_at=created_at or timezone.now(),
    )


def candle_make(
    *,
    market: Market,
    start: datetime,
    open: Decimal | str,
    high: Decimal | str,
    low: Decimal | str,
    close: Decimal | str,
    volume: Decimal | str,
    quote_volume: Decimal | str,
    trades: int,
) -> Candle:
    return Candle.objects.create(
        market=market,
        start=start,
        open=Decimal(open),
        high=Decimal(high),
        low=Decimal(low),
        close=Decimal(close),
        volume=Decimal(volume),
        quote_volume=Decimal(quote_volume),
        trades=trades,
    )


def market_state_set(*, market: Market, **fields: Any) -> MarketState:
    state, _ = MarketState.objects.update_or_create(market=market, defaults=fields)
    return state


def trade_make(
    *,
    market: Market,
    maker: Any,
    taker: Any,
    taker_side: str,
    price: Decimal | str,
    quantity: Decimal | str,
    at: datetime,
    maker_fee: Decimal | str = "0",
    taker_fee: Decimal | str = "0",
) -> Fill:
    """A completed trade as the worker records it: two filled orders (a limit maker, a market taker),
    the fill, the one-minute candle upserted, and the market's last trade and price."""
    price, quantity = Decimal(price), Decimal(quantity)
    maker_side = Side.ASK if taker_side == Side.BID else Side.BID
    common = {"market": market, "executed_quantity": quantity, "status": OrderStatus.FILLED, "created_at": at}
    maker_order = order_make(
        user=maker,
        side=maker_side,
        price=price,
        quantity=quantity,
        executed_quote_quantity=price * quantity,
        **common,
    )
    taker_order = order_make(
        user=taker,
        side=taker_side,
        order_type=OrderType.MARKET,
        quantity=quantity,
        executed_quote_quantity=price * quantity,
        **common,
    )
    fill = fill_make(
        maker_order=maker_order,
        taker_order=taker_order,
        price=price,
        quantity=quantity,
        created_at=at,
        maker_fee=maker_fee,
        taker_fee=taker_fee,
    )
    fill_record_in_candle(fill)
    return fill


def fill_record_in_candle(fill: Fill) -> Candle:
    """What the worker does after writing a fill (fills applied in time order): upsert the fill's
    one-minute candle and move the market's last trade id and price."""
    minute = fill.created_at.replace(second=0, microsecond=0)
    candle = Candle.objects.filter(market=fill.market, start=minute).first()
    if candle is None:
        candle = candle_make(
            market=fill.market,
            start=minute,
            open=fill.price,
            high=fill.price,
            low=fill.price,
            close=fill.price,
            volume=fill.quantity,
            quote_volume=fill.quote_quantity,
            trades=1,
        )
    else:
        candle.high = max(candle.high, fill.price)
        candle.low = min(candle.low, fill.price)
        candle.close = fill.price
        candle.volume += fill.quantity
        candle.quote_volume += fill.quote_quantity
        candle.trades += 1
        candle.save()
    market_state_set(market=fill.market, last_trade_id=fill.trade_id, last_price=fill.price)
    return candle
