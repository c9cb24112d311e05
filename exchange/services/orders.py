"""The API side of trading: validate, reserve funds, store the command with the market's next
sequence number, ring the doorbell, and wait (bounded) for the matching worker's result.

Lock order (shared with the matching worker, see exchange/services/matching.py): ledger accounts
first, the market's `MarketState` row last, so the two never wait on each other in a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from compliance.services.screening import user_is_frozen
from core.errors import Forbidden, InsufficientFunds, NotFound
from exchange.models import (
    OPEN_STATUSES,
    AccountKind,
    CommandKind,
    EntryKind,
    Market,
    MarketCommand,
    MarketState,
    Order,
    OrderStatus,
    OrderType,
    Side,
)
from exchange.services.doorbell import command_done_wait, doorbell_ring_on_commit
from exchange.services.ledger import Line, ledger_account_get, ledger_post
from exchange.services.order_request import InvalidOrder, OrderRequest, order_request_check


@dataclass(frozen=True)
class Reservation:
    asset_id: int
    amount: Decimal


def _reservation(*, user: User, market: Market, request: OrderRequest) -> Reservation:
    """What the order must hold while open. Fees come out of what the trade pays the user, so
    only the amount given up is held."""
    if request.side == Side.BID:
        asset = market.quote
        if request.order_type == OrderType.LIMIT:
            amount = request.price * request.quantity  # type: ignore[operator]
        elif request.quote_quantity is not None:
            amount = request.quote_quantity
        else:
            # A market buy by quantity has no price: hold all available quote; the engine stops
            # before spending more, and the rest is released when the order ends.
            amount = ledger_account_get(owner_id=user.pk, kind=AccountKind.AVAILABLE, asset=asset).balance
    else:
        asset = market.base
        if request.quantity is not None:
            amount = request.quantity
        else:
            # A market sell for a quote amount: hold all available base, sell until the quote is met.
            amount = ledger_account_get(owner_id=user.pk, kind=AccountKind.AVAILABLE, asset=asset).balance
    if amount <= 0:
        raise InsufficientFunds(f"Insufficient {asset.symbol} available")
    return Reservation(asset_id=asset.pk, amount=amount)


def _next_order_id() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('exchange_order', 'id'))")
        return int(cursor.fetchone()[0])


def _take_sequence(market: Market) -> int:
    """The market's next command number, under the MarketState row lock until commit: commands
    therefore commit in sequence order and the worker never skips a number that appears later."""
    MarketState.objects.get_or_create(market=market)
    state = MarketState.objects.select_for_update().only("next_sequence").get(market=market)
    MarketState.objects.filter(pk=market.pk).update(next_sequence=F("next_sequence") + 1)
    return state.next_sequence


def order_place(*, user: User, market: Market, request: OrderRequest) -> Order:
    """Accept an order: check it, hold its funds, store it and its place command.

    Raises the request errors of `order_request_check` and InsufficientFunds; on any of them nothing
    is stored. Returns the order as the worker left it if it answered within the wait, else as
    accepted (status New or TriggerPending).
    """
    order_request_check(market=market, request=request)
    if user_is_frozen(user.pk):
        raise Forbidden("Account is frozen; contact support")
    with transaction.atomic(durable=True):
        reservation = _reservation(user=user, market=market, request=request)
        order_id = _next_order_id()
        asset = market.quote if reservation.asset_id == market.quote_id else market.base
        ledger_post(
            kind=EntryKind.HOLD,
            lines=[
                Line(
                    ledger_account_get(owner_id=user.pk, kind=AccountKind.AVAILABLE, asset=asset),
                    -reservation.amount,
                ),
                Line(
                    ledger_account_get(owner_id=user.pk, kind=AccountKind.LOCKED, asset=asset),
                    reservation.amount,
                ),
            ],
            reference=f"order:{order_id}",
        )
        sequence = _take_sequence(market)
        now = timezone.now()
        order = Order.objects.create(
            id=order_id,
            market=market,
            user=user,
            client_id=request.client_id,
            side=request.side,
            order_type=request.order_type,
            time_in_force=request.time_in_force,
            post_only=request.post_only,
            reduce_only=request.reduce_only,
            self_trade_prevention=request.self_trade_prevention,
            price=request.price,
            quantity=request.quantity,
            quote_quantity=request.quote_quantity,
            trigger_price=request.trigger_price,
            trigger_quantity=request.quantity if request.is_trigger else None,
            trigger_by="LastPrice" if request.is_trigger else "",
            status=OrderStatus.TRIGGER_PENDING if request.is_trigger else OrderStatus.NEW,
            locked_asset_id=reservation.asset_id,
            locked_amount=reservation.amount,
            sequence=sequence,
            created_at=now,
            updated_at=now,
        )
        # The original hold travels with the command: a replay needs it after the order has spent it.
        MarketCommand.objects.create(
            market=market,
            sequence=sequence,
            kind=CommandKind.PLACE,
            user=user,
            order=order,
            payload={"reserved": str(reservation.amount)},
            created_at=now,
        )
        doorbell_ring_on_commit(market_id=market.pk, symbol=market.symbol)
    _wait(market=market, sequence=sequence)
    order = Order.objects.select_related("market__base", "market__quote").get(pk=order.pk)
    if order.expiry_reason == "PostOnlyTaker":
        # As Backpack: a post-only order that would take is refused, not reported as placed.
        raise InvalidOrder("Order would immediately match and take")
    return order


def order_find_open(*, user: User, market: Market, order_id: int | None, client_id: int | None) -> Order:
    """One of the user's open orders on the market; NotFound otherwise (another user's looks the same)."""
    orders = Order.objects.filter(user=user, market=market, status__in=OPEN_STATUSES)
    if order_id is not None:
        orders = orders.filter(pk=order_id)
    if client_id is not None:
        orders = orders.filter(client_id=client_id)
    order = orders.select_related("market__base", "market__quote").order_by("-id").first()
    if order is None:
        raise NotFound("Order not found")
    return order


def order_cancel(*, user: User, market: Market, order_id: int | None, client_id: int | None) -> Order:
    """Ask the worker to cancel one open order; returns it as the worker left it (Cancelled)."""
    with transaction.atomic(durable=True):
        order = order_find_open(user=user, market=market, order_id=order_id, client_id=client_id)
        sequence = _take_sequence(market)
        MarketCommand.objects.create(
            market=market, sequence=sequence, kind=CommandKind.CANCEL, user=user, order=order
        )
        doorbell_ring_on_commit(market_id=market.pk, symbol=market.symbol)
    _wait(market=market, sequence=sequence)
    return Order.objects.select_related("market__base", "market__quote").get(pk=order.pk)


def order_cancel_all(*, user: User, market: Market, scope: str = "all") -> list[Order]:
    """Cancel every open order of the user on the market (scope: all, limit or trigger)."""
    with transaction.atomic(durable=True):
        open_ids = list(
            Order.objects.filter(user=user, market=market, status__in=OPEN_STATUSES).values_list(
                "pk", flat=True
            )
        )
        sequence = _take_sequence(market)
        MarketCommand.objects.create(
            market=market, sequence=sequence, kind=CommandKind.CANCEL_ALL, user=user, payload={"scope": scope}
        )
        doorbell_ring_on_commit(market_id=market.pk, symbol=market.symbol)
    _wait(market=market, sequence=sequence)
    command = MarketCommand.objects.get(market=market, sequence=sequence)
    cancelled = (command.result or {}).get("cancelled") if command.result else None
    ids = cancelled if cancelled is not None else open_ids
    return list(
        Order.objects.filter(pk__in=ids).select_related("market__base", "market__quote").order_by("id")
    )


def _wait(*, market: Market, sequence: int) -> None:
    timeout = settings.ORDER_RESULT_WAIT_SECONDS
    if timeout > 0:
        command_done_wait(market_id=market.pk, sequence=sequence, timeout=timeout)
