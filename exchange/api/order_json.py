"""Order and fill -> Backpack JSON (§6.6 and §6.9 of the API reference).

Pure functions of model instances: callers `select_related` what each one reads (orders: `market`;
fills: `market`, `maker_order`, `taker_order`, `maker_fee_asset`, `taker_fee_asset`), so rendering
a page of rows makes no queries. Every key Backpack sends is present, null when unset, as the real
API does; clients read them with safe getters either way.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from exchange.api.presenters import dec, naive_iso
from exchange.models import Fill, Order, OrderType, Side

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Conditional-order fields Backpack sends that Satchel has no column for yet: always null.
_UNSUPPORTED_NULLS = {
    "relatedOrderId": None,
    "stopLossLimitPrice": None,
    "stopLossTriggerBy": None,
    "stopLossTriggerPrice": None,
    "strategyId": None,
    "takeProfitLimitPrice": None,
    "takeProfitTriggerBy": None,
    "takeProfitTriggerPrice": None,
}


def epoch_ms(moment: datetime) -> int:
    """Unix milliseconds, exactly (float timestamps can be off by one ms)."""
    return (moment - EPOCH) // timedelta(milliseconds=1)


def _trigger_quantity(order: Order) -> str | None:
    # ccxt reads amount = quantity, falling back to triggerQuantity; a trigger order placed with a
    # plain quantity would otherwise show no amount once the live view drops `quantity` (§10.10).
    if order.trigger_quantity is not None:
        return dec(order.trigger_quantity)
    if order.trigger_price is not None:
        return dec(order.quantity)
    return None


def _order_fields(order: Order) -> dict[str, Any]:
    return {
        "clientId": order.client_id,
        "executedQuantity": dec(order.executed_quantity),
        "executedQuoteQuantity": dec(order.executed_quote_quantity),
        "id": str(order.pk),
        "orderType": order.order_type,
        "reduceOnly": order.reduce_only,
        "selfTradePrevention": order.self_trade_prevention,
        "side": order.side,
        "status": order.status,
        "symbol": order.market.symbol,
        "timeInForce": order.time_in_force,
        "triggerBy": order.trigger_by or None,
        "triggerPrice": dec(order.trigger_price),
        "triggerQuantity": _trigger_quantity(order),
        **_UNSUPPORTED_NULLS,
    }


def order_json(order: Order) -> dict[str, Any]:
    """The live order object of GET/POST/DELETE /api/v1/order and /api/v1/orders: createdAt in ms."""
    data = _order_fields(order)
    data["createdAt"] = epoch_ms(order.created_at)
    data["triggeredAt"] = epoch_ms(order.triggered_at) if order.triggered_at else None
    if order.order_type == OrderType.LIMIT:
        data["postOnly"] = order.post_only
        data["price"] = dec(order.price)
        data["quantity"] = dec(order.quantity)
    else:
        data["quantity"] = dec(order.quantity)
        data["quoteQuantity"] = dec(order.quote_quantity)
    return dict(sorted(data.items()))


def order_history_json(order: Order) -> dict[str, Any]:
    """The /wapi/v1/history/orders variant: createdAt naive-ISO, price/quantity always present
    (null when unset), expiryReason and systemOrderType added."""
    data = _order_fields(order)
    data.update(
        {
            "createdAt": naive_iso(order.created_at),
            "expiryReason": order.expiry_reason or None,
            "postOnly": order.post_only,
            "price": dec(order.price),
            "quantity": dec(order.quantity),
            "quoteQuantity": dec(order.quote_quantity),
            "systemOrderType": None,
        }
    )
    return dict(sorted(data.items()))


def fill_json(fill: Fill, user_id: int, *, is_maker: bool | None = None) -> dict[str, Any]:
    """The user's side of a fill, as /wapi/v1/history/fills lists it.

    `is_maker` picks the side when the user was both maker and taker (a self-trade allowed by
    selfTradePrevention=Allow); by default the maker side if the user was the maker.
    """
    if is_maker is None:
        is_maker = fill.maker_user_id == user_id
    if (fill.maker_user_id if is_maker else fill.taker_user_id) != user_id:
        raise ValueError(f"user {user_id} is not the {'maker' if is_maker else 'taker'} of fill {fill.pk}")
    if is_maker:
        order, fee, fee_asset = fill.maker_order, fill.maker_fee, fill.maker_fee_asset
        side = Side.ASK if fill.taker_side == Side.BID else Side.BID
    else:
        order, fee, fee_asset = fill.taker_order, fill.taker_fee, fill.taker_fee_asset
        side = fill.taker_side
    return {
        "clientId": None if order.client_id is None else str(order.client_id),
        "fee": dec(fee),
        "feeSymbol": fee_asset.symbol,
        "isMaker": is_maker,
        "orderId": str(order.pk),
        "price": dec(fill.price),
        "quantity": dec(fill.quantity),
        "side": str(side),
        "symbol": fill.market.symbol,
        "systemOrderType": None,
        "timestamp": naive_iso(fill.created_at),
        "tradeId": fill.trade_id,
    }
