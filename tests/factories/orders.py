"""Order requests as the REST view builds them, for tests that place orders through the services."""

from __future__ import annotations

from decimal import Decimal

from exchange.services.order_request import OrderRequest


def limit_request(side: str, price: str, quantity: str = "1") -> OrderRequest:
    """A plain GTC limit order: no post-only, no client id, no trigger, STP RejectTaker."""
    return OrderRequest(
        side=side,  # type: ignore[arg-type]
        order_type="Limit",  # type: ignore[arg-type]
        price=Decimal(price),
        quantity=Decimal(quantity),
        quote_quantity=None,
        time_in_force="GTC",  # type: ignore[arg-type]
        post_only=False,
        self_trade_prevention="RejectTaker",  # type: ignore[arg-type]
        client_id=None,
        trigger_price=None,
    )


def bid(price: str, quantity: str = "1") -> OrderRequest:
    return limit_request("Bid", price, quantity)
