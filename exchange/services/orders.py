"""The API side of trading: validate, reserve funds, store the command with the market's next
sequence number, ring the doorbell, and wait (bounded) for the matching worker's result.

Lock order (shared with the matching worker, see exchange/services/matching.py): ledger accounts
first, the market's `MarketState` row last, so the two never wait on each other in a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from accounts.kyc_tiers import Product
from accounts.models import User
from accounts.services.access import access_require
from compliance.services.screening import user_is_frozen
from core.api_rows import row_shape
from core.errors import Forbidden, InsufficientFunds, InvalidQuantity, NotFound
from exchange.models import (
    OPEN_STATUSES,
    AccountKind,
    Asset,
    CommandKind,
    Market,
    MarketCommand,
    MarketState,
    Order,
    OrderStatus,
    OrderType,
    Side,
)
from exchange.services.doorbell import command_done_wait, doorbell_ring_on_commit
from exchange.services.ledger_batch import ledger_account_id, ledger_account_ids_forget
from exchange.services.order_request import InvalidOrder, OrderRequest, order_request_check


@dataclass(frozen=True)
class Reservation:
    asset_id: int
    amount: Decimal


def _reservation(*, user: User, market: Market, request: OrderRequest) -> Reservation:
    """What the order must hold while open. Fees come out of what the trade pays the user, so
    only the amount given up is held. Raises InsufficientFunds, InvalidQuantity."""
    if request.side == Side.BID:
        asset = market.quote
        if request.order_type == OrderType.LIMIT:
            amount = request.price * request.quantity  # type: ignore[operator]
        elif request.quote_quantity is not None:
            amount = request.quote_quantity
        else:
            # A market buy by quantity has no price: hold all available quote; the engine stops
            # before spending more, and the rest is released when the order ends.
            amount = _available(user_id=user.pk, asset=asset)
    else:
        asset = market.base
        if request.quantity is not None:
            amount = request.quantity
        else:
            # A market sell for a quote amount: hold all available base, sell until the quote is met.
            amount = _available(user_id=user.pk, asset=asset)
    if amount <= 0:
        raise InsufficientFunds(f"Insufficient {asset.symbol} available")
    if amount != amount.quantize(asset.step):
        raise InvalidQuantity(f"{asset.symbol} amounts have at most {asset.decimals} decimals")
    return Reservation(asset_id=asset.pk, amount=amount)


def _available(*, user_id: int, asset: Asset) -> Decimal:
    account_id = ledger_account_id(owner_id=user_id, kind=AccountKind.AVAILABLE, asset=asset)
    with connection.cursor() as cursor:
        cursor.execute("SELECT balance FROM exchange_ledgeraccount WHERE id = %s", [account_id])
        row = cursor.fetchone()
    return row[0] if row is not None else Decimal(0)


# The market's next command number. The MarketState row stays locked until commit, so commands
# commit in sequence order and the worker never skips a number that appears later.
_TAKE_SEQUENCE_SQL = (
    "UPDATE exchange_marketstate SET next_sequence = next_sequence + 1 WHERE market_id = %s"
    " RETURNING next_sequence - 1"
)

# The hold in one statement: a fresh order id, available -> locked guarded by `balance >= amount`
# (re-checked by PostgreSQL on the locked row, so two racing orders cannot both spend the same
# funds), and its journal entry and lines only if both balances moved. The lower account id is
# updated first (the uncorrelated EXISTS runs it before the second row is touched): the ledger's
# lock order, shared with the matching worker. Returns (order id, lines written, available seen).
_HOLD_SQL = """WITH new_order AS (SELECT nextval(pg_get_serial_sequence('exchange_order', 'id')) AS id),
first_moved AS (
    UPDATE exchange_ledgeraccount AS t SET balance = t.balance + %(first_delta)s, updated_at = %(now)s
     WHERE t.id = %(first)s AND t.owner_id = %(user)s AND t.asset_id = %(asset)s
       AND t.balance + %(first_delta)s >= 0
    RETURNING t.id, %(first_delta)s::numeric AS delta),
second_moved AS (
    UPDATE exchange_ledgeraccount AS t SET balance = t.balance + %(second_delta)s, updated_at = %(now)s
     WHERE t.id = %(second)s AND t.owner_id = %(user)s AND t.asset_id = %(asset)s
       AND t.balance + %(second_delta)s >= 0 AND EXISTS (SELECT 1 FROM first_moved)
    RETURNING t.id, %(second_delta)s::numeric AS delta),
moved AS (SELECT id, delta FROM first_moved UNION ALL SELECT id, delta FROM second_moved),
entry AS (
    INSERT INTO exchange_journalentry (kind, reference, memo, created_at)
    SELECT 'hold', 'order:' || new_order.id, '', %(now)s FROM new_order WHERE (SELECT count(*) FROM moved) = 2
    RETURNING id),
lines AS (
    INSERT INTO exchange_journalline (entry_id, account_id, asset_id, amount)
    SELECT entry.id, moved.id, %(asset)s, moved.delta FROM entry, moved
    RETURNING 1)
SELECT (SELECT id FROM new_order), (SELECT count(*) FROM lines),
       (SELECT balance FROM exchange_ledgeraccount WHERE id = %(available)s)"""


class _HoldRefused(Exception):
    """The guarded hold moved fewer than both balances: short of funds, or stale cached ids."""

    def __init__(self, balance: Decimal | None) -> None:
        self.balance = balance


def _hold(*, user: User, asset: Asset, amount: Decimal, now: datetime) -> int:
    """Move `amount` from available to locked; returns the new order's id. Raises _HoldRefused."""
    available = ledger_account_id(owner_id=user.pk, kind=AccountKind.AVAILABLE, asset=asset)
    locked = ledger_account_id(owner_id=user.pk, kind=AccountKind.LOCKED, asset=asset)
    (first, first_delta), (second, second_delta) = sorted(((available, -amount), (locked, amount)))
    with connection.cursor() as cursor:
        cursor.execute(
            _HOLD_SQL,
            {
                "now": now,
                "first": first,
                "first_delta": first_delta,
                "second": second,
                "second_delta": second_delta,
                "user": user.pk,
                "asset": asset.pk,
                "available": available,
            },
        )
        order_id, lines, balance = cursor.fetchone()
    if lines != 2:
        raise _HoldRefused(balance)
    return int(order_id)


def _insert_sql(
    model: type[models.Model], *, exclude: tuple[str, ...], computed: dict[str, str]
) -> tuple[str, list[Any]]:
    """`INSERT INTO table (columns) SELECT ...` for a model's concrete fields, with `computed`
    columns given as SQL expressions; returns the SQL head and the fields that take parameters."""
    fields = [f for f in model._meta.concrete_fields if f.column not in exclude]
    values = [computed.get(f.column, "%s") for f in fields]
    columns = ", ".join(f.column for f in fields)
    params = [f for f in fields if f.column not in computed]
    return f"INSERT INTO {model._meta.db_table} ({columns}) SELECT {', '.join(values)}", params


# The order and its place command, numbered with the market's next sequence, in one statement
# (the MarketState row stays locked until commit, after the ledger rows: the lock order).
_ORDER_INSERT, _ORDER_FIELDS = _insert_sql(Order, exclude=(), computed={"sequence": "seq.sequence"})
_COMMAND_INSERT, _COMMAND_FIELDS = _insert_sql(
    MarketCommand, exclude=("id",), computed={"sequence": "placed.sequence"}
)
_PLACE_SQL = f"""WITH seq AS ({_TAKE_SEQUENCE_SQL} AS sequence),
placed AS ({_ORDER_INSERT} FROM seq RETURNING sequence)
{_COMMAND_INSERT} FROM placed RETURNING sequence"""


_SEQUENCED_COMMAND_INSERT, _ = _insert_sql(
    MarketCommand, exclude=("id",), computed={"sequence": "seq.sequence"}
)
_COMMAND_SQL = f"""WITH seq AS ({_TAKE_SEQUENCE_SQL} AS sequence)
{_SEQUENCED_COMMAND_INSERT} FROM seq RETURNING sequence"""


def _command_store(command: MarketCommand) -> int:
    """Store a cancel command with the market's next sequence number (one statement); returns it."""
    params = [command.market_id, *_prepared(command, _COMMAND_FIELDS)]
    with connection.cursor() as cursor:
        cursor.execute(_COMMAND_SQL, params)
        row = cursor.fetchone()
        if row is None:  # the market's first command: no MarketState row yet
            MarketState.objects.get_or_create(market_id=command.market_id)
            cursor.execute(_COMMAND_SQL, params)
            row = cursor.fetchone()
    return int(row[0])


def _prepared(instance: models.Model, fields: list[Any]) -> list[Any]:
    return [field.get_db_prep_save(field.pre_save(instance, add=True), connection) for field in fields]


def order_place(*, user: User, market: Market, request: OrderRequest) -> Order:
    """Accept an order: check it, hold its funds, store it and its place command.

    Raises Forbidden (gates), the request errors of `order_request_check`, InvalidQuantity (a hold
    finer than the asset's precision) and InsufficientFunds; on any of them nothing is stored. Returns the order as the worker left it if it answered within the wait, else as
    accepted (status New or TriggerPending).
    """
    access_require(user=user, product=Product.TRADE_SPOT, market=market)  # KYC tier and jurisdiction
    order_request_check(market=market, request=request)
    if user_is_frozen(user.pk):
        raise Forbidden("Account is frozen; contact support")
    reservation = _reservation(user=user, market=market, request=request)
    asset = market.quote if reservation.asset_id == market.quote_id else market.base
    for attempt in range(2):
        try:
            order, sequence = _order_store(
                user=user, market=market, request=request, asset=asset, reservation=reservation
            )
            break
        except _HoldRefused as refused:
            # Ids cached by this process that no longer match the database (a test database
            # rebuilt under a long-lived process) look like a refused hold: look them up again once.
            ledger_account_ids_forget(owner_id=user.pk)
            if attempt or (refused.balance is not None and refused.balance < reservation.amount):
                have = refused.balance if refused.balance is not None else Decimal(0)
                raise InsufficientFunds(
                    f"Insufficient available {asset.symbol}: have {have.normalize():f}, "
                    f"need {reservation.amount.normalize():f}"
                ) from None
    if _wait(market=market, sequence=sequence):
        order = _order_reread(order)  # the worker answered: the order as it left it
    if order.expiry_reason == "PostOnlyTaker":
        # As Backpack: a post-only order that would take is refused, not reported as placed.
        raise InvalidOrder("Order would immediately match and take")
    return order


def _order_store(
    *, user: User, market: Market, request: OrderRequest, asset: Asset, reservation: Reservation
) -> tuple[Order, int]:
    """Hold the funds, store the order and its place command; one transaction, two statements."""
    with transaction.atomic(durable=True):
        now = timezone.now()
        order_id = _hold(user=user, asset=asset, amount=reservation.amount, now=now)
        order = Order(
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
            sequence=0,
            created_at=now,
            updated_at=now,
        )
        # The original hold travels with the command: a replay needs it after the order has spent it.
        command = MarketCommand(
            market=market,
            sequence=0,
            kind=CommandKind.PLACE,
            user=user,
            order=order,
            payload={"reserved": str(reservation.amount)},
            created_at=now,
        )
        params = [market.pk, *_prepared(order, _ORDER_FIELDS), *_prepared(command, _COMMAND_FIELDS)]
        with connection.cursor() as cursor:
            cursor.execute(_PLACE_SQL, params)
            row = cursor.fetchone()
            if row is None:  # the market's first command: no MarketState row to number it yet
                MarketState.objects.get_or_create(market=market)
                cursor.execute(_PLACE_SQL, params)
                row = cursor.fetchone()
        order.sequence = int(row[0])
        order._state.adding, order._state.db = False, connection.alias
        doorbell_ring_on_commit(market_id=market.pk, symbol=market.symbol)
    return order, order.sequence


def _order_read(*, market: Market, where: str, params: list[Any]) -> Order | None:
    """The newest order of `market` matching `where`, with `market` attached. Plain SQL: these
    reads run on every cancel and after every worker answer, and compiling them through the ORM
    cost more CPU than the rest of the read (docs/PERFORMANCE.md, REST API)."""
    shape = row_shape(Order)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {shape.select('o')} FROM exchange_order o WHERE o.market_id = %s AND {where}"  # noqa: S608  (columns from _meta)
            " ORDER BY o.id DESC LIMIT 1",
            [market.pk, *params],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    order: Order = shape.instance(row)
    order.market = market
    return order


def _order_reread(order: Order) -> Order:
    """The order as the worker left it (one primary-key read)."""
    return _order_read(market=order.market, where="o.id = %s", params=[order.pk]) or order


_OPEN_STATUSES = [str(status) for status in OPEN_STATUSES]


def order_find_open(*, user: User, market: Market, order_id: int | None, client_id: int | None) -> Order:
    """One of the user's open orders on the market; NotFound otherwise (another user's looks the same)."""
    where, params = "o.user_id = %s AND o.status = ANY(%s)", [user.pk, _OPEN_STATUSES]
    if order_id is not None:
        where, params = f"{where} AND o.id = %s", [*params, order_id]
    if client_id is not None:
        where, params = f"{where} AND o.client_id = %s", [*params, client_id]
    order = _order_read(market=market, where=where, params=params)
    if order is None:
        raise NotFound("Order not found")
    return order


def order_cancel(*, user: User, market: Market, order_id: int | None, client_id: int | None) -> Order:
    """Ask the worker to cancel one open order; returns it as the worker left it (Cancelled)."""
    with transaction.atomic(durable=True):
        order = order_find_open(user=user, market=market, order_id=order_id, client_id=client_id)
        sequence = _command_store(
            MarketCommand(
                market=market, kind=CommandKind.CANCEL, user=user, order=order, created_at=timezone.now()
            )
        )
        doorbell_ring_on_commit(market_id=market.pk, symbol=market.symbol)
    if _wait(market=market, sequence=sequence):
        order = _order_reread(order)
    return order


def order_cancel_all(*, user: User, market: Market, scope: str = "all") -> list[Order]:
    """Cancel every open order of the user on the market (scope: all, limit or trigger)."""
    with transaction.atomic(durable=True):
        open_ids = list(
            Order.objects.filter(user=user, market=market, status__in=OPEN_STATUSES).values_list(
                "pk", flat=True
            )
        )
        sequence = _command_store(
            MarketCommand(
                market=market,
                kind=CommandKind.CANCEL_ALL,
                user=user,
                payload={"scope": scope},
                created_at=timezone.now(),
            )
        )
        doorbell_ring_on_commit(market_id=market.pk, symbol=market.symbol)
    _wait(market=market, sequence=sequence)
    command = MarketCommand.objects.get(market=market, sequence=sequence)
    cancelled = (command.result or {}).get("cancelled") if command.result else None
    ids = cancelled if cancelled is not None else open_ids
    return list(
        Order.objects.filter(pk__in=ids).select_related("market__base", "market__quote").order_by("id")
    )


def _wait(*, market: Market, sequence: int) -> bool:
    """True once the worker says the command is applied; False when it did not answer in time."""
    timeout = settings.ORDER_RESULT_WAIT_SECONDS
    if timeout <= 0:
        return False
    if connection.pool is not None and not connection.in_atomic_block:
        # Hand the pooled connection back while blocked on Redis: held, every waiting request
        # keeps one of the pool's few connections for up to `timeout`, which caps the orders in
        # flight per web process at the pool size (docs/PERFORMANCE.md, REST API).
        connection.close()
    return command_done_wait(market_id=market.pk, sequence=sequence, timeout=timeout)
