"""Validate an order request against its market before anything is reserved or stored."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.errors import DomainError, InvalidMarket, InvalidQuantity, InvalidRequest
from exchange.models import Market, OrderBookState, OrderType, SelfTradePrevention, Side, TimeInForce


class InvalidPrice(DomainError):
    code = "INVALID_PRICE"


class InvalidOrder(DomainError):
    code = "INVALID_ORDER"


class TradingPaused(DomainError):
    code = "TRADING_PAUSED"


@dataclass(frozen=True)
class OrderRequest:
    side: str
    order_type: str
    price: Decimal | None
    quantity: Decimal | None
    quote_quantity: Decimal | None
    time_in_force: str
    post_only: bool
    self_trade_prevention: str
    client_id: int | None
    trigger_price: Decimal | None
    reduce_only: bool = False

    @property
    def is_trigger(self) -> bool:
        return self.trigger_price is not None


def _multiple(value: Decimal, step: Decimal) -> bool:
    return (value / step) == (value / step).to_integral_value()


def order_request_check(*, market: Market, request: OrderRequest) -> None:
    """Raise the Backpack error a client would get for this order on this market, if any."""
    if market.market_type != "SPOT":
        # Positions, margin and funding do not exist yet; settling a perp fill as spot would be wrong.
        raise InvalidMarket(f"{market.symbol}: perpetual trading is not open yet")
    state = market.order_book_state
    if state in (OrderBookState.CLOSED, OrderBookState.CANCEL_ONLY):
        raise TradingPaused(f"{market.symbol} accepts no new orders ({state})")
    if state == OrderBookState.POST_ONLY and not request.post_only:
        raise InvalidOrder(f"{market.symbol} accepts post-only orders only")
    if state == OrderBookState.LIMIT_ONLY and request.order_type != OrderType.LIMIT:
        raise InvalidOrder(f"{market.symbol} accepts limit orders only")
    if request.side not in Side.values:
        raise InvalidRequest("side must be Bid or Ask")
    if request.time_in_force not in TimeInForce.values:
        raise InvalidRequest("timeInForce must be GTC, IOC or FOK")
    if request.self_trade_prevention not in SelfTradePrevention.values:
        raise InvalidRequest("selfTradePrevention must be RejectTaker, RejectMaker, RejectBoth or Allow")
    if request.order_type == OrderType.LIMIT:
        if request.price is None or request.quantity is None:
            raise InvalidRequest("A limit order needs price and quantity")
        if request.quote_quantity is not None:
            raise InvalidRequest("quoteQuantity is for market orders only")
        if request.post_only and request.time_in_force != TimeInForce.GTC:
            raise InvalidOrder("A post-only order must be GTC")
    elif request.order_type == OrderType.MARKET:
        if (request.quantity is None) == (request.quote_quantity is None):
            raise InvalidRequest("A market order needs exactly one of quantity or quoteQuantity")
        if request.post_only:
            raise InvalidOrder("A market order cannot be post-only")
        if request.price is not None:
            raise InvalidRequest("A market order takes no price")
    else:
        raise InvalidRequest("orderType must be Limit or Market")
    if request.reduce_only:
        raise InvalidOrder("reduceOnly applies to perpetual markets only")
    for name, price in (("price", request.price), ("triggerPrice", request.trigger_price)):
        if price is None:
            continue
        if (
            price <= 0
            or price < market.min_price
            or (market.max_price is not None and price > market.max_price)
        ):
            raise InvalidPrice(f"{name} is outside the market's price band")
        if not _multiple(price, market.tick_size):
            raise InvalidPrice("Price decimal too long")
    if request.quantity is not None:
        quantity = request.quantity
        if quantity <= 0 or not _multiple(quantity, market.step_size):
            raise InvalidQuantity(
                "Quantity decimal too long" if quantity > 0 else "Quantity must be positive"
            )
        if quantity < market.min_quantity:
            raise InvalidQuantity(f"Quantity is below the minimum of {market.min_quantity.normalize():f}")
        if market.max_quantity is not None and quantity > market.max_quantity:
            raise InvalidQuantity(f"Quantity is above the maximum of {market.max_quantity.normalize():f}")
    if request.quote_quantity is not None:
        quote_step = market.quote.step
        if request.quote_quantity <= 0 or not _multiple(request.quote_quantity, quote_step):
            raise InvalidQuantity(
                f"quoteQuantity must be positive with at most {market.quote.decimals} decimals"
            )
