"""Order entry and cancellation: POST/GET/DELETE /api/v1/order, GET/DELETE/POST /api/v1/orders."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.session_authentication import SIGNED_OR_SESSION
from core.api_prepared import prepared_cursor
from core.api_rows import row_shape
from core.api_views import BackpackApi, body_object, query_param
from core.errors import DomainError, InvalidRequest, InvalidSymbol
from core.money import parse_decimal
from exchange.api.order_json import order_json
from exchange.models import OPEN_STATUSES, Asset, Market, MarketType, Order, OrderType, TimeInForce
from exchange.services.order_request import OrderRequest
from exchange.services.orders import order_cancel, order_cancel_all, order_find_open, order_place

MAX_BATCH_ORDERS = 50
CANCEL_SCOPES = {None: "all", "RestingLimitOrder": "limit", "ConditionalOrder": "trigger"}


def _market(symbol: object) -> Market:
    """The market with its assets, hidden ones included (an account may still hold orders there).
    Read fresh on every call, so a halted market takes effect at once; plain SQL, since the ORM's
    three-table join cost ~0.5 ms of CPU per order to compile (docs/PERFORMANCE.md, REST API)."""
    if not isinstance(symbol, str) or not symbol:
        raise InvalidRequest("Missing required parameter symbol")
    found = market_read(symbol)
    if found is None:
        raise InvalidSymbol(f"Unknown market {symbol}")
    return found[0]


def market_read(symbol: str, extra: str = "") -> tuple[Market, tuple[Any, ...]] | None:
    """`_market`'s read, with the values of `extra` (more select-list expressions over the market
    `m` and its assets `b` and `q`) after the market; None when there is no such market."""
    market_shape, asset_shape = row_shape(Market), row_shape(Asset)
    with prepared_cursor() as cursor:
        cursor.execute(
            f"SELECT {market_shape.select('m')}, {asset_shape.select('b')}, {asset_shape.select('q')}"  # noqa: S608  (columns from _meta)
            f"{', ' + extra if extra else ''}"
            ' FROM exchange_market m JOIN exchange_asset b ON b.id = m."base_id"'
            ' JOIN exchange_asset q ON q.id = m."quote_id" WHERE m.symbol = %s',
            [symbol],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    market = market_shape.instance(row)
    market.base = asset_shape.instance(row, market_shape.width)
    market.quote = asset_shape.instance(row, market_shape.width + asset_shape.width)
    return market, tuple(row[market_shape.width + 2 * asset_shape.width :])


def _decimal(data: dict[str, Any], name: str) -> Decimal | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, float):
        value = str(value)  # JSON numbers arrive exact through DecimalJSONParser; this is a fallback
    try:
        return parse_decimal(value)
    except ValueError as exc:
        raise InvalidRequest(f"{name} must be a decimal string") from exc


def _bool(data: dict[str, Any], name: str, default: bool = False) -> bool:
    value = data.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    raise InvalidRequest(f"{name} must be true or false")


def _uint32(value: object, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidRequest(f"{name} must be an integer")
    try:
        number = int(value) if isinstance(value, (int, str)) else int(str(value))
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(f"{name} must be an integer") from exc
    if isinstance(value, Decimal) and value != number:
        raise InvalidRequest(f"{name} must be an integer")
    if not 0 <= number <= 0xFFFFFFFF:
        raise InvalidRequest(f"{name} must fit in 32 bits")
    return number


def order_request_from(data: dict[str, Any]) -> OrderRequest:
    """Backpack's order body to an OrderRequest. Unknown fields are ignored, as clients forward extras."""
    trigger_price = _decimal(data, "triggerPrice")
    trigger_quantity = _decimal(data, "triggerQuantity")
    if (trigger_price is None) != (trigger_quantity is None):
        raise InvalidRequest("Must specify both `triggerPrice` and `triggerQuantity` or neither")
    order_type = data.get("orderType")
    quantity = trigger_quantity if trigger_quantity is not None else _decimal(data, "quantity")
    time_in_force = data.get("timeInForce") or TimeInForce.GTC
    if order_type == OrderType.MARKET and time_in_force == TimeInForce.GTC:
        time_in_force = TimeInForce.IOC  # a market order never rests
    return OrderRequest(
        side=data.get("side"),  # type: ignore[arg-type]
        order_type=order_type,  # type: ignore[arg-type]
        price=_decimal(data, "price"),
        quantity=quantity,
        quote_quantity=_decimal(data, "quoteQuantity"),
        time_in_force=time_in_force,
        post_only=_bool(data, "postOnly"),
        self_trade_prevention=data.get("selfTradePrevention") or "RejectTaker",
        client_id=_uint32(data.get("clientId"), "clientId"),
        trigger_price=trigger_price,
        reduce_only=_bool(data, "reduceOnly"),
    )


def _order_selector(data: dict[str, Any]) -> tuple[int | None, int | None]:
    order_id = data.get("orderId")
    client_id = _uint32(data.get("clientId"), "clientId")
    if (order_id in (None, "")) == (client_id is None):
        raise InvalidRequest("Specify exactly one of orderId or clientId")
    if order_id not in (None, ""):
        try:
            return int(order_id), None
        except (TypeError, ValueError) as exc:
            raise InvalidRequest("orderId must be an order id") from exc
    return None, client_id


class OrderApi(BackpackApi):
    instructions = {"GET": "orderQuery", "POST": "orderExecute", "DELETE": "orderCancel"}
    authentication_classes = SIGNED_OR_SESSION

    def get(self, request: Request) -> Response:
        market = _market(query_param(request, "symbol", required=True))
        order_id, client_id = _order_selector(dict(request.query_params.items()))
        return Response(
            order_json(
                order_find_open(user=request.user, market=market, order_id=order_id, client_id=client_id)
            )
        )

    def post(self, request: Request) -> Response:
        data = body_object(request)
        market = _market(data.get("symbol"))
        return Response(
            order_json(order_place(user=request.user, market=market, request=order_request_from(data)))
        )

    def delete(self, request: Request) -> Response:
        data = body_object(request)
        market = _market(data.get("symbol"))
        order_id, client_id = _order_selector(data)
        return Response(
            order_json(order_cancel(user=request.user, market=market, order_id=order_id, client_id=client_id))
        )


class OrdersApi(BackpackApi):
    instructions = {"GET": "orderQueryAll", "DELETE": "orderCancelAll", "POST": "orderExecute"}
    authentication_classes = SIGNED_OR_SESSION

    def get(self, request: Request) -> Response:
        orders = Order.objects.filter(user=request.user, status__in=OPEN_STATUSES).select_related(
            "market__base", "market__quote"
        )
        symbol = query_param(request, "symbol")
        if symbol is not None:
            orders = orders.filter(market=_market(symbol))
        market_type = query_param(request, "marketType")
        if market_type is not None:
            if market_type not in MarketType.values:
                raise InvalidRequest(f"Unknown marketType {market_type}")
            orders = orders.filter(market__market_type=market_type)
        return Response([order_json(order) for order in orders.order_by("id")])

    def delete(self, request: Request) -> Response:
        data = body_object(request)
        market = _market(data.get("symbol"))
        scope = data.get("orderType")
        if scope not in CANCEL_SCOPES:
            raise InvalidRequest("orderType must be RestingLimitOrder or ConditionalOrder")
        orders = order_cancel_all(user=request.user, market=market, scope=CANCEL_SCOPES[scope])
        return Response([order_json(order) for order in orders])

    def post(self, request: Request) -> Response:
        items = request.data
        if not isinstance(items, list) or not items or not all(isinstance(item, dict) for item in items):
            raise InvalidRequest("Body must be a non-empty array of orders")
        if len(items) > MAX_BATCH_ORDERS:
            raise InvalidRequest(f"At most {MAX_BATCH_ORDERS} orders per batch")
        results: list[dict[str, Any]] = []
        for item in items:
            try:
                market = _market(item.get("symbol"))
                order = order_place(user=request.user, market=market, request=order_request_from(item))
                results.append({"operation": "Ok", **order_json(order)})
            except DomainError as exc:
                results.append({"operation": "Err", "code": exc.code, "message": exc.message})
        return Response(results)
