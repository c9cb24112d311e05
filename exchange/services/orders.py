"""The API side of trading: validate, reserve funds, store the command with the market's next
sequence number, ring the doorbell, and wait (bounded) for the matching worker's result.

Lock order (shared with the matching worker, see exchange/services/matching.py): ledger accounts
first, the market's `MarketState` row last, so the two never wait on each other in a cycle.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from accounts.kyc_tiers import Product
from accounts.models import ApiKey, User
from accounts.services.access import access_require
from compliance.models import ComplianceFlag
from compliance.services.screening import user_is_frozen
from core.api_prepared import prepared_cursor
from core.api_rows import row_shape, row_text
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
from exchange.services.done_listener import Answer
from exchange.services.doorbell import command_done_answer, doorbell_ring_on_commit
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
    "UPDATE exchange_marketstate SET next_sequence = next_sequence + 1 WHERE market_id = %(market)s"
)


def _insert_sql(
    model: type[models.Model], *, prefix: str, exclude: tuple[str, ...] = (), computed: dict[str, str]
) -> tuple[str, list[tuple[str, Any]]]:
    """`INSERT INTO table (columns) SELECT ...` for a model's concrete fields, `computed` columns
    given as SQL expressions, the others as named parameters `prefix` + column; returns the SQL
    head and (parameter name, field) for each parameter."""
    fields = [f for f in model._meta.concrete_fields if f.column not in exclude]
    # Each parameter cast to its column's type: bound server-side (core/api_prepared.py), a NULL
    # or a string in a select list would otherwise arrive as text.
    values = [computed.get(f.column, f"%({prefix}{f.column})s::{f.cast_db_type(connection)}") for f in fields]
    columns = ", ".join(f.column for f in fields)
    params = [(prefix + f.column, f) for f in fields if f.column not in computed]
    return f"INSERT INTO {model._meta.db_table} ({columns}) SELECT {', '.join(values)}", params


def _prepared(instance: models.Model, params: list[tuple[str, Any]]) -> dict[str, Any]:
    return {
        name: field.get_db_prep_save(field.pre_save(instance, add=True), connection) for name, field in params
    }


@dataclass(frozen=True, slots=True)
class SeenRows:
    """The rows a caller's checks were made against, each as `row_text` gave it when read (from
    a process cache: exchange/api/fast_orders.py): the API key (all but `last_used_at`), its
    user, the market and its two assets. The order statements store nothing unless every one
    still reads the same, and then raise `SeenRowsChanged`: what was checked is what is true
    when the order is stored, as if each had been read fresh."""

    api_key_id: int
    api_key: str
    user: str
    market: str
    base_id: int
    base: str
    quote_id: int
    quote: str

    def params(self) -> dict[str, Any]:
        return {
            "s_key": self.api_key_id,
            "s_key_row": self.api_key,
            "s_user_row": self.user,
            "s_market_row": self.market,
            "s_base": self.base_id,
            "s_base_row": self.base,
            "s_quote": self.quote_id,
            "s_quote_row": self.quote,
        }


_NOTHING_SEEN: dict[str, Any] = dict.fromkeys(
    ("s_key", "s_key_row", "s_user_row", "s_market_row", "s_base", "s_base_row", "s_quote", "s_quote_row")
)


class SeenRowsChanged(Exception):
    """A row in `SeenRows` changed since it was read: nothing was stored; read afresh and retry."""


API_KEY_SEEN_EXCLUDE = ("last_used_at",)  # written once a minute by signed calls themselves
API_KEY_ROW_TEXT = row_text(ApiKey, "k", exclude=API_KEY_SEEN_EXCLUDE)
USER_ROW_TEXT = row_text(User, "u")
MARKET_ROW_TEXT = row_text(Market, "m")


def asset_row_text(alias: str) -> str:
    return row_text(Asset, alias)


# True when no rows were seen (a caller that read everything afresh) or all still read the same.
_FRESH_SQL = f"""fresh AS (SELECT COALESCE(%(s_key)s::bigint IS NULL OR (
    (SELECT {API_KEY_ROW_TEXT} FROM accounts_apikey k WHERE k.id = %(s_key)s::bigint) = %(s_key_row)s::text
    AND (SELECT {USER_ROW_TEXT} FROM accounts_user u WHERE u.id = %(user)s) = %(s_user_row)s::text
    AND (SELECT {MARKET_ROW_TEXT} FROM exchange_market m WHERE m.id = %(market)s) = %(s_market_row)s::text
    AND (SELECT {asset_row_text("a")} FROM exchange_asset a WHERE a.id = %(s_base)s::bigint) = %(s_base_row)s::text
    AND (SELECT {asset_row_text("a")} FROM exchange_asset a WHERE a.id = %(s_quote)s::bigint) = %(s_quote_row)s::text
    ), false) AS ok)"""  # noqa: S608  (columns from _meta)


# The order and cancel statements commit without waiting for the WAL flush when they are a
# transaction of their own: waiting, each held the market's MarketState row (its sequence number)
# through the flush, so a market's orders queued one flush at a time (docs/PERFORMANCE.md, REST API
# round 8). Nothing is acknowledged before it is durable: a call answers once the matching worker
# has applied the command, and the worker's batch commits durably, flushing the WAL up to its own
# record, which follows the command's; a call that answers without the worker first makes one
# durable commit of its own (`commits_durable`). Inside a caller's transaction the setting is left
# alone (NULL): that transaction commits as its caller decides.
_ASYNC_COMMIT_SQL = """async_commit AS (
    SELECT set_config('synchronous_commit', COALESCE(%(commit_mode)s::text, current_setting('synchronous_commit')), true))"""


def _commit_mode() -> str | None:
    return None if connection.in_atomic_block else "off"


def commits_durable() -> None:
    """Return once every transaction committed so far is on disk, those this process committed
    asynchronously included: a durable commit flushes the WAL up to its own record, which follows
    theirs. One statement, its own transaction; a transaction that wrote no WAL commits without
    a flush, so it writes a (transactional, empty) logical message, which any role may."""
    if connection.in_atomic_block:
        return  # the order statements committed, or will, with the caller's transaction
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('synchronous_commit', 'on', true), pg_logical_emit_message(true, 'satchel', '')"
        )


def _seen_params(seen: SeenRows | None) -> dict[str, Any]:
    return _NOTHING_SEEN if seen is None else seen.params()


_ORDER_INSERT, _ORDER_PARAMS = _insert_sql(
    Order, prefix="o_", computed={"id": "new_order.id", "sequence": "seq.sequence"}
)
_PLACE_COMMAND_INSERT, _PLACE_COMMAND_PARAMS = _insert_sql(
    MarketCommand,
    prefix="c_",
    exclude=("id",),
    computed={"sequence": "placed.sequence", "order_id": "placed.id"},
)

# An order in one statement, so one implicit transaction that PostgreSQL commits by itself: no
# BEGIN or COMMIT round trip, and above all no row lock held while the web process gets back to
# sending COMMIT. Under load that wait (a thread waiting for the interpreter) made every order of
# a market queue behind the MarketState row (docs/PERFORMANCE.md, REST API).
#
# The hold locks both ledger accounts in id order (the ledger's lock order, shared with the
# matching worker) and reads their current balances; only if both are the user's, the available
# one covers the amount, the account is not frozen and the market has its state row does the
# statement move the balances (available -> locked), write the journal entry and lines, take the
# market's next sequence number (the MarketState row last: the lock order) and store the order
# and its place command. Otherwise it changes nothing and says why. Returns (order id, sequence or
# NULL, accounts found, available balance, frozen, state row exists, seen rows unchanged); with
# `SeenRows` that changed it stores nothing.
_PLACE_SQL = f"""WITH new_order AS (SELECT nextval(pg_get_serial_sequence('exchange_order', 'id')) AS id),
{_FRESH_SQL},
{_ASYNC_COMMIT_SQL},
held AS (
    SELECT id, balance FROM exchange_ledgeraccount
     WHERE id IN (%(available)s, %(locked)s) AND owner_id = %(user)s AND asset_id = %(asset)s
     ORDER BY id FOR UPDATE),
checked AS (
    SELECT count(*) AS found,
           max(balance) FILTER (WHERE id = %(available)s) AS available,
           EXISTS (SELECT 1 FROM {ComplianceFlag._meta.db_table}
                    WHERE user_id = %(user)s AND is_frozen) AS frozen,
           EXISTS (SELECT 1 FROM exchange_marketstate WHERE market_id = %(market)s) AS has_state
      FROM held),
go AS (
    SELECT found = 2 AND available >= %(amount)s AND NOT frozen AND has_state AND (SELECT ok FROM fresh) AS ok
      FROM checked),
moved AS (
    UPDATE exchange_ledgeraccount AS t SET balance = t.balance + v.delta, updated_at = %(now)s
      FROM (VALUES (%(available)s::bigint, -%(amount)s::numeric), (%(locked)s::bigint, %(amount)s::numeric))
        AS v (id, delta)
     WHERE t.id = v.id AND (SELECT ok FROM go)
    RETURNING t.id, v.delta),
entry AS (
    INSERT INTO exchange_journalentry (kind, reference, memo, created_at)
    SELECT 'hold', 'order:' || new_order.id, '', %(now)s FROM new_order WHERE (SELECT ok FROM go)
    RETURNING id),
lines AS (
    INSERT INTO exchange_journalline (entry_id, account_id, asset_id, amount)
    SELECT entry.id, moved.id, %(asset)s, moved.delta FROM entry, moved
    RETURNING 1),
seq AS ({_TAKE_SEQUENCE_SQL} AND (SELECT ok FROM go) RETURNING next_sequence - 1 AS sequence),
placed AS ({_ORDER_INSERT} FROM seq, new_order RETURNING id, sequence),
command AS ({_PLACE_COMMAND_INSERT} FROM placed RETURNING sequence)
SELECT (SELECT id FROM new_order), (SELECT sequence FROM command), found, available, frozen, has_state,
       (SELECT ok FROM fresh)
  FROM checked, async_commit"""  # noqa: S608  (table names from _meta)


_CANCEL_COMMAND_INSERT, _CANCEL_COMMAND_PARAMS = _insert_sql(
    MarketCommand,
    prefix="c_",
    exclude=("id",),
    computed={"sequence": "seq.sequence", "order_id": "target.id"},
)


@functools.cache
def _cancel_sql(*, by_id: bool, by_client_id: bool) -> str:
    """A cancel in one statement (one implicit transaction, as `_PLACE_SQL`): find the user's open
    order (by id and/or client id), and if found, take the market's next sequence number and store
    the cancel command. Returns the order's row and the command's sequence (NULL: the market has
    no state row yet) and whether the `SeenRows` still hold (if not, nothing is stored), or no
    row when there is no such order."""
    where = "".join(
        (
            " AND o.id = %(order_id)s" if by_id else "",
            " AND o.client_id = %(client_id)s" if by_client_id else "",
        )
    )
    shape = row_shape(Order)
    return f"""WITH {_FRESH_SQL},
{_ASYNC_COMMIT_SQL},
target AS (
    SELECT o.id FROM exchange_order o
     WHERE o.market_id = %(market)s AND o.user_id = %(user)s AND o.status = ANY(%(open)s){where}
     ORDER BY o.id DESC LIMIT 1),
seq AS ({_TAKE_SEQUENCE_SQL} AND EXISTS (SELECT 1 FROM target) AND (SELECT ok FROM fresh)
    RETURNING next_sequence - 1 AS sequence),
command AS ({_CANCEL_COMMAND_INSERT} FROM seq, target RETURNING sequence)
SELECT {shape.select("o")}, (SELECT sequence FROM command), (SELECT ok FROM fresh)
  FROM exchange_order o, async_commit WHERE o.id = (SELECT id FROM target)"""  # noqa: S608  (columns from _meta)


_COMMAND_INSERT, _COMMAND_PARAMS = _insert_sql(
    MarketCommand, prefix="c_", exclude=("id",), computed={"sequence": "seq.sequence"}
)
_COMMAND_SQL = f"""WITH seq AS ({_TAKE_SEQUENCE_SQL} RETURNING next_sequence - 1 AS sequence)
{_COMMAND_INSERT} FROM seq RETURNING sequence"""


def _command_store(command: MarketCommand) -> int:
    """Store a command with the market's next sequence number (one statement); returns it."""
    params = {"market": command.market_id, **_prepared(command, _COMMAND_PARAMS)}
    with connection.cursor() as cursor:
        cursor.execute(_COMMAND_SQL, params)
        row = cursor.fetchone()
        if row is None:  # the market's first command: no MarketState row yet
            MarketState.objects.get_or_create(market_id=command.market_id)
            cursor.execute(_COMMAND_SQL, params)
            row = cursor.fetchone()
    return int(row[0])


def order_place(*, user: User, market: Market, request: OrderRequest) -> Order:
    """Accept an order: check it, hold its funds, store it and its place command.

    Raises Forbidden (gates, a frozen account), the request errors of `order_request_check`,
    InvalidQuantity (a hold finer than the asset's precision) and InsufficientFunds; on any of them
    nothing is stored. Returns the order as the worker left it if it answered within the wait,
    else as accepted (status New or TriggerPending); InvalidOrder if the worker refused it
    (`order_check_answer`).
    """
    order = order_submit(user=user, market=market, request=request)
    answer = _wait(market=market, sequence=order.sequence)
    if answer is not None:
        order = order_answered(order, answer)  # the worker answered: the order as it left it
    order_check_answer(order)
    return order


def order_submit(*, user: User, market: Market, request: OrderRequest, seen: SeenRows | None = None) -> Order:
    """`order_place` up to the wait for the worker: the order as accepted (stored and committed,
    the worker's doorbell rung), or the same errors. `seen`: the rows `user` and `market` were
    read from, if not read afresh; SeenRowsChanged (nothing stored) when one has changed."""
    access_require(user=user, product=Product.TRADE_SPOT, market=market)  # KYC tier and jurisdiction
    order_request_check(market=market, request=request)
    try:
        reservation = _reservation(user=user, market=market, request=request)
    except (InsufficientFunds, InvalidQuantity):
        if user_is_frozen(user.pk):  # a frozen account hears that first, as it always has
            raise Forbidden(FROZEN_MESSAGE) from None
        raise
    asset = market.quote if reservation.asset_id == market.quote_id else market.base
    for attempt in range(2):
        try:
            order = _order_store(
                user=user, market=market, request=request, asset=asset, reservation=reservation, seen=seen
            )
            break
        except _HoldRefused as refused:
            # Ids cached by this process that no longer match the database (a test database
            # rebuilt under a long-lived process) look like a refused hold: look them up again once.
            ledger_account_ids_forget(owner_id=user.pk)
            if attempt or refused.found == 2:
                have = refused.balance if refused.balance is not None else Decimal(0)
                raise InsufficientFunds(
                    f"Insufficient available {asset.symbol}: have {have.normalize():f}, "
                    f"need {reservation.amount.normalize():f}"
                ) from None
    return order


def order_check_answer(order: Order) -> None:
    """Raises InvalidOrder for a post-only order the worker refused because it would take: as
    Backpack, such an order is refused, not reported as placed."""
    if order.expiry_reason == "PostOnlyTaker":
        raise InvalidOrder("Order would immediately match and take")


FROZEN_MESSAGE = "Account is frozen; contact support"


class _HoldRefused(Exception):
    """The hold moved nothing: short of funds, or cached account ids gone stale (`found` < 2)."""

    def __init__(self, *, found: int, balance: Decimal | None) -> None:
        self.found, self.balance = found, balance


def _order_store(
    *,
    user: User,
    market: Market,
    request: OrderRequest,
    asset: Asset,
    reservation: Reservation,
    seen: SeenRows | None,
) -> Order:
    """Hold the funds, store the order and its place command: one statement, committed on return
    (inside a caller's transaction it joins that one). Raises Forbidden, _HoldRefused."""
    now = timezone.now()
    order = Order(
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
        payload={"reserved": str(reservation.amount)},
        created_at=now,
    )
    params = {
        "now": now,
        "user": user.pk,
        "asset": asset.pk,
        "market": market.pk,
        "amount": reservation.amount,
        "available": ledger_account_id(owner_id=user.pk, kind=AccountKind.AVAILABLE, asset=asset),
        "locked": ledger_account_id(owner_id=user.pk, kind=AccountKind.LOCKED, asset=asset),
        **_prepared(order, _ORDER_PARAMS),
        **_prepared(command, _PLACE_COMMAND_PARAMS),
        **_seen_params(seen),
        "commit_mode": _commit_mode(),
    }
    with prepared_cursor() as cursor:
        cursor.execute(_PLACE_SQL, params)
        order_id, sequence, found, available, frozen, has_state, fresh = cursor.fetchone()
        if not fresh:
            raise SeenRowsChanged
        if frozen:
            raise Forbidden(FROZEN_MESSAGE)
        if not has_state and found == 2:  # the market's first command: no MarketState row to number it
            MarketState.objects.get_or_create(market=market)
            cursor.execute(_PLACE_SQL, params)
            order_id, sequence, found, available, frozen, has_state, fresh = cursor.fetchone()
            if not fresh:
                raise SeenRowsChanged
    if sequence is None:
        raise _HoldRefused(found=found, balance=available)
    order.id, order.sequence = int(order_id), int(sequence)
    order._state.adding, order._state.db = False, connection.alias
    doorbell_ring_on_commit(market_id=market.pk, symbol=market.symbol)
    return order


def _order_read(*, market: Market, where: str, params: list[Any]) -> Order | None:
    """The newest order of `market` matching `where`, with `market` attached. Plain SQL: these
    reads run on every cancel and after every worker answer, and compiling them through the ORM
    cost more CPU than the rest of the read (docs/PERFORMANCE.md, REST API)."""
    shape = row_shape(Order)
    with prepared_cursor() as cursor:
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


def order_reread(order: Order) -> Order:
    """The order as the worker left it (one primary-key read)."""
    return _order_read(market=order.market, where="o.id = %s", params=[order.pk]) or order


def order_answered(order: Order, answer: Answer) -> Order:
    """`order` as the worker's answer says its batch left it; read again when the answer does not
    say (a fired trigger, a cancel the worker refused, a notice without states)."""
    return order_from_answer(order, answer) or order_reread(order)


def order_from_answer(order: Order, answer: Answer) -> Order | None:
    """`order` updated from the worker's answer (no I/O); None when the answer does not say."""
    state = answer.get(order.pk)
    if state is None:
        return None
    order.status = state.status
    if state.executed_quantity is not None:
        order.executed_quantity = state.executed_quantity
        order.executed_quote_quantity = state.executed_quote_quantity
    if state.expiry_reason:
        order.expiry_reason = state.expiry_reason
    return order


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
    """Ask the worker to cancel one open order; returns it as the worker left it (Cancelled).
    NotFound when the user has no such open order on the market (another user's looks the same)."""
    order, sequence = order_cancel_submit(user=user, market=market, order_id=order_id, client_id=client_id)
    answer = _wait(market=market, sequence=sequence)
    if answer is not None:
        order = order_answered(order, answer)
    return order


def order_cancel_submit(
    *,
    user: User,
    market: Market,
    order_id: int | None,
    client_id: int | None,
    seen: SeenRows | None = None,
) -> tuple[Order, int]:
    """`order_cancel` up to the wait for the worker: the order as found and the cancel command's
    sequence (stored and committed, the doorbell rung). NotFound as `order_cancel`; `seen` as
    for `order_submit`."""
    command = MarketCommand(market=market, kind=CommandKind.CANCEL, user=user, created_at=timezone.now())
    params = {
        "market": market.pk,
        "user": user.pk,
        "open": _OPEN_STATUSES,
        "order_id": order_id,
        "client_id": client_id,
        **_prepared(command, _CANCEL_COMMAND_PARAMS),
        **_seen_params(seen),
        "commit_mode": _commit_mode(),
    }
    sql = _cancel_sql(by_id=order_id is not None, by_client_id=client_id is not None)
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        if (
            row is not None and row[-1] and row[-2] is None
        ):  # the market's first command: no MarketState row yet
            MarketState.objects.get_or_create(market=market)
            cursor.execute(sql, params)
            row = cursor.fetchone()
    if row is None:
        raise NotFound("Order not found")
    *order_row, sequence, fresh = row
    if not fresh:
        raise SeenRowsChanged
    order: Order = row_shape(Order).instance(order_row)
    order.market = market
    doorbell_ring_on_commit(market_id=market.pk, symbol=market.symbol)
    return order, int(sequence)


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


def _wait(*, market: Market, sequence: int) -> Answer | None:
    """The worker's answer once it says the command is applied; None when it did not answer in time."""
    timeout = settings.ORDER_RESULT_WAIT_SECONDS
    answer = None
    if timeout > 0:
        if connection.pool is not None and not connection.in_atomic_block:
            # Hand the pooled connection back while blocked on Redis: held, every waiting request
            # keeps one of the pool's few connections for up to `timeout`, which caps the orders in
            # flight per web process at the pool size (docs/PERFORMANCE.md, REST API).
            connection.close()
        answer = command_done_answer(market_id=market.pk, sequence=sequence, timeout=timeout)
    if answer is None:
        commits_durable()  # answered without the worker's durable batch: make the command durable
    return answer
