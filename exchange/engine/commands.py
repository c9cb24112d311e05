"""Commands: what the sequencer asks the engine to do, one market at a time.

Units: `price` and `trigger_price` in ticks, `quantity` in lots, `quote_quantity` and `quote_limit`
in notional units (ticks x lots). Order ids come from the sequencer (the database row), not from the
engine.

A `PlaceOrder` checks its fields once, when it is built, and keeps the verdict in `rejection`
(None when it is well-formed). It never raises: the engine answers a malformed placement, like a
duplicate order id, with an `OrderRejected` event and changes nothing, so a corrupt database row
cannot wedge a market's worker. The checks compare enum members by identity on purpose: the engine
branches with `is`, so a plain string that merely equals a member ("GTC") is rejected. Every field
the engine reads is type-checked here (ids and sizes int, `post_only` bool): the compiled engine
(mypyc) would raise on a field of the wrong type where the pure one would carry it along.

This module is not compiled: a placement's fields must be able to hold anything until checked.

`limit_order`, `market_order`, `cancel_order` and `cancel_all` build commands several times faster
than the dataclass constructors (see `_frozen`); both give equal objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exchange.engine._frozen import draft_class
from exchange.engine.enums import (
    ALLOW,
    ASK,
    BID,
    FOK,
    GTC,
    IOC,
    LIMIT,
    MARKET,
    REJECT_BOTH,
    REJECT_MAKER,
    REJECT_TAKER,
    CancelScope,
    OrderType,
    RejectReason,
    SelfTradePrevention,
    Side,
    TimeInForce,
    TriggerKind,
)


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """Place a limit or market order, or a trigger order when `trigger_price` is set.

    - Limit: `price` and `quantity`; `time_in_force` GTC (rests), IOC or FOK; `post_only` (GTC only)
      expires it with PostOnlyTaker instead of letting it take.
    - Market: exactly one of `quantity` or `quote_quantity` (spend at most, or for an Ask receive at
      most, that much quote). A market Bid by `quantity` may carry `quote_limit`, the quote the
      sequencer reserved: matching stops before a fill would spend more, and the remainder expires
      with InsufficientFunds. Market orders never rest; GTC is treated as IOC.
    - Trigger: `trigger_price` and `trigger_kind`; `quantity` is Backpack's `triggerQuantity`. The
      order waits as TriggerPending and becomes the limit or market order above when the last trade
      price crosses the trigger price (see `TriggerKind` for the direction).
    - `self_trade_prevention` is the taker's rule against its own resting orders.
    """

    order_id: int
    account_id: int
    side: Side
    order_type: OrderType
    quantity: int | None = None
    price: int | None = None
    quote_quantity: int | None = None
    quote_limit: int | None = None
    time_in_force: TimeInForce = GTC
    post_only: bool = False
    self_trade_prevention: SelfTradePrevention = REJECT_TAKER
    client_id: int | None = None
    trigger_price: int | None = None
    trigger_kind: TriggerKind | None = None
    # Why the engine will refuse this placement, decided once at construction; not an input.
    rejection: RejectReason | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rejection", placement_error(self))


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Cancel one open order (resting or trigger-pending) of `account_id`."""

    order_id: int
    account_id: int


@dataclass(frozen=True, slots=True)
class CancelAll:
    """Cancel every open order of `account_id` in this market, or only one kind of them."""

    account_id: int
    scope: CancelScope = CancelScope.ALL


Command = PlaceOrder | CancelOrder | CancelAll


_INVALID_ORDER = RejectReason.INVALID_ORDER
_INVALID_PRICE = RejectReason.INVALID_PRICE
_INVALID_QUANTITY = RejectReason.INVALID_QUANTITY
_STOP_LOSS = TriggerKind.STOP_LOSS
_TAKE_PROFIT = TriggerKind.TAKE_PROFIT


def placement_error(cmd: PlaceOrder) -> RejectReason | None:
    """Why `cmd` is malformed, or None. Duplicate ids are the engine's check (it needs the book).

    The engine relies on these: integer sizes, one sizing for market orders, a quote limit only on
    a market Bid by quantity, post-only only with GTC, a trigger kind exactly with a trigger price.
    """
    quantity = cmd.quantity
    tif = cmd.time_in_force
    if cmd.order_type is LIMIT:
        price = cmd.price
        if type(price) is not int or price <= 0:
            return _INVALID_PRICE
        if type(quantity) is not int or quantity <= 0:
            return _INVALID_QUANTITY
        if cmd.quote_quantity is not None or cmd.quote_limit is not None:
            return _INVALID_ORDER
        if tif is not GTC and (cmd.post_only or (tif is not IOC and tif is not FOK)):
            return _INVALID_ORDER
    elif cmd.order_type is MARKET:
        if cmd.price is not None or cmd.post_only or (tif is not IOC and tif is not GTC and tif is not FOK):
            return _INVALID_ORDER
        quote_quantity, quote_limit = cmd.quote_quantity, cmd.quote_limit
        if quantity is None:
            if type(quote_quantity) is not int or quote_quantity <= 0:
                return _INVALID_QUANTITY
            if quote_limit is not None:
                return _INVALID_ORDER
        else:
            if type(quantity) is not int or quantity <= 0:
                return _INVALID_QUANTITY
            if quote_quantity is not None:
                return _INVALID_ORDER
            if quote_limit is not None and (
                cmd.side is not BID or type(quote_limit) is not int or quote_limit < 0
            ):
                return _INVALID_ORDER
    else:
        return _INVALID_ORDER
    side, stp = cmd.side, cmd.self_trade_prevention
    client_id = cmd.client_id
    if (
        (side is not BID and side is not ASK)
        or type(cmd.order_id) is not int
        or type(cmd.account_id) is not int
        or (client_id is not None and type(client_id) is not int)
        or type(cmd.post_only) is not bool
    ):
        return _INVALID_ORDER
    if stp is not REJECT_TAKER and stp is not ALLOW and stp is not REJECT_MAKER and stp is not REJECT_BOTH:
        return _INVALID_ORDER
    trigger_price = cmd.trigger_price
    if trigger_price is not None:
        if type(trigger_price) is not int or trigger_price <= 0:
            return _INVALID_PRICE
        if cmd.trigger_kind is not _STOP_LOSS and cmd.trigger_kind is not _TAKE_PROFIT:
            return _INVALID_ORDER
    elif cmd.trigger_kind is not None:
        return _INVALID_ORDER
    return None


_new = object.__new__
_PlaceDraft = draft_class(PlaceOrder)
_CancelDraft = draft_class(CancelOrder)
_CancelAllDraft = draft_class(CancelAll)


def _place(
    order_id: int,
    account_id: int,
    side: Side,
    order_type: OrderType,
    quantity: int | None,
    price: int | None,
    quote_quantity: int | None,
    quote_limit: int | None,
    time_in_force: TimeInForce,
    post_only: bool,
    self_trade_prevention: SelfTradePrevention,
    client_id: int | None,
    trigger_price: int | None,
    trigger_kind: TriggerKind | None,
) -> PlaceOrder:
    command = _new(_PlaceDraft)
    command.order_id = order_id
    command.account_id = account_id
    command.side = side
    command.order_type = order_type
    command.quantity = quantity
    command.price = price
    command.quote_quantity = quote_quantity
    command.quote_limit = quote_limit
    command.time_in_force = time_in_force
    command.post_only = post_only
    command.self_trade_prevention = self_trade_prevention
    command.client_id = client_id
    command.trigger_price = trigger_price
    command.trigger_kind = trigger_kind
    command.rejection = placement_error(command)  # type: ignore[arg-type]
    command.__class__ = PlaceOrder
    return command  # type: ignore[no-any-return]


def limit_order(
    order_id: int,
    account_id: int,
    side: Side,
    price: int,
    quantity: int,
    time_in_force: TimeInForce = GTC,
    post_only: bool = False,
    self_trade_prevention: SelfTradePrevention = REJECT_TAKER,
    client_id: int | None = None,
    trigger_price: int | None = None,
    trigger_kind: TriggerKind | None = None,
) -> PlaceOrder:
    return _place(
        order_id,
        account_id,
        side,
        OrderType.LIMIT,
        quantity,
        price,
        None,
        None,
        time_in_force,
        post_only,
        self_trade_prevention,
        client_id,
        trigger_price,
        trigger_kind,
    )


def market_order(
    order_id: int,
    account_id: int,
    side: Side,
    quantity: int | None = None,
    quote_quantity: int | None = None,
    quote_limit: int | None = None,
    time_in_force: TimeInForce = IOC,
    self_trade_prevention: SelfTradePrevention = REJECT_TAKER,
    client_id: int | None = None,
    trigger_price: int | None = None,
    trigger_kind: TriggerKind | None = None,
) -> PlaceOrder:
    return _place(
        order_id,
        account_id,
        side,
        OrderType.MARKET,
        quantity,
        None,
        quote_quantity,
        quote_limit,
        time_in_force,
        False,
        self_trade_prevention,
        client_id,
        trigger_price,
        trigger_kind,
    )


def cancel_order(order_id: int, account_id: int) -> CancelOrder:
    command = _new(_CancelDraft)
    command.order_id = order_id
    command.account_id = account_id
    command.__class__ = CancelOrder
    return command  # type: ignore[no-any-return]


def cancel_all(account_id: int, scope: CancelScope = CancelScope.ALL) -> CancelAll:
    command = _new(_CancelAllDraft)
    command.account_id = account_id
    command.scope = scope
    command.__class__ = CancelAll
    return command  # type: ignore[no-any-return]
