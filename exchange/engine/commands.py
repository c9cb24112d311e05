"""Commands: what the sequencer asks the engine to do, one market at a time.

Units: `price` and `trigger_price` in ticks, `quantity` in lots, `quote_quantity` and `quote_limit`
in notional units (ticks x lots). Order ids come from the sequencer (the database row), not from the
engine.

Every placement is checked once, when it is built (`placement_error`), and never raises: a
well-formed one is a `PlaceOrder` (`rejection` None); a malformed one, whatever its fields hold,
is a `MalformedPlaceOrder` with the same fields as given and the verdict in `rejection`, which the
engine answers with an `OrderRejected` event, changing nothing (like a duplicate order id), so a
corrupt database row cannot wedge a market's worker. `PlaceOrder(...)` itself returns the
malformed twin when its checks fail. The checks compare enum members by identity on purpose: the
engine branches with `is`, so a plain string that merely equals a member ("GTC") is rejected.
`CancelOrder(...)` likewise returns a `MalformedCancelOrder` for ids that are not ints.

Compiled by mypyc, `PlaceOrder` and `CancelOrder` are native classes: a `PlaceOrder` holds only
values of its declared types, so the engine reads its fields as C struct members. The malformed
twins and `CancelAll` stay Python classes (`interpreted`), able to hold anything.

`limit_order`, `market_order`, `cancel_order` and `cancel_all` build commands faster than the
constructors when interpreted (see `_frozen`); both give equal objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, cast, final

from exchange.engine._frozen import compiled, draft_class, interpreted, mypyc_attr
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


@final
@mypyc_attr(acyclic=True)
@dataclass(frozen=True, slots=True, init=False)
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

    Calling `PlaceOrder(...)` with fields that `placement_error` refuses returns a
    `MalformedPlaceOrder` instead (same fields, `rejection` set): a `PlaceOrder` is always
    well-formed, so compiled it can hold its fields natively and the engine reads them directly.
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
    # Why the engine refuses the placement: always None here (see `MalformedPlaceOrder`).
    rejection: RejectReason | None = field(default=None, init=False, repr=False, compare=False)

    def __new__(
        cls,
        order_id: object,
        account_id: object,
        side: object,
        order_type: object,
        quantity: object = None,
        price: object = None,
        quote_quantity: object = None,
        quote_limit: object = None,
        time_in_force: object = GTC,
        post_only: object = False,
        self_trade_prevention: object = REJECT_TAKER,
        client_id: object = None,
        trigger_price: object = None,
        trigger_kind: object = None,
    ) -> Any:
        malformed = _malformed(
            order_id,
            account_id,
            side,
            order_type,
            quantity,
            price,
            quote_quantity,
            quote_limit,
            time_in_force,
            post_only,
            self_trade_prevention,
            client_id,
            trigger_price,
            trigger_kind,
        )
        if malformed is not None:
            return malformed
        self = object.__new__(cls)
        # Well-formed, so every field has its declared type (the casts are checks when compiled).
        object.__setattr__(self, "order_id", cast(int, order_id))
        object.__setattr__(self, "account_id", cast(int, account_id))
        object.__setattr__(self, "side", cast(Side, side))
        object.__setattr__(self, "order_type", cast(OrderType, order_type))
        object.__setattr__(self, "quantity", cast("int | None", quantity))
        object.__setattr__(self, "price", cast("int | None", price))
        object.__setattr__(self, "quote_quantity", cast("int | None", quote_quantity))
        object.__setattr__(self, "quote_limit", cast("int | None", quote_limit))
        object.__setattr__(self, "time_in_force", cast(TimeInForce, time_in_force))
        object.__setattr__(self, "post_only", cast(bool, post_only))
        object.__setattr__(self, "self_trade_prevention", cast(SelfTradePrevention, self_trade_prevention))
        object.__setattr__(self, "client_id", cast("int | None", client_id))
        object.__setattr__(self, "trigger_price", cast("int | None", trigger_price))
        object.__setattr__(self, "trigger_kind", cast("TriggerKind | None", trigger_kind))
        object.__setattr__(self, "rejection", None)
        return self

    def __init__(
        self,
        order_id: object,
        account_id: object,
        side: object,
        order_type: object,
        quantity: object = None,
        price: object = None,
        quote_quantity: object = None,
        quote_limit: object = None,
        time_in_force: object = GTC,
        post_only: object = False,
        self_trade_prevention: object = REJECT_TAKER,
        client_id: object = None,
        trigger_price: object = None,
        trigger_kind: object = None,
    ) -> None:
        """Everything happens in `__new__` (which may return a `MalformedPlaceOrder`); declared
        with the same parameters so that compiled code calls the constructor directly."""

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # copy and pickle rebuild through the constructor: `__new__` needs the fields.
        return (
            PlaceOrder,
            (
                self.order_id,
                self.account_id,
                self.side,
                self.order_type,
                self.quantity,
                self.price,
                self.quote_quantity,
                self.quote_limit,
                self.time_in_force,
                self.post_only,
                self.self_trade_prevention,
                self.client_id,
                self.trigger_price,
                self.trigger_kind,
            ),
        )


@interpreted
@dataclass(frozen=True, slots=True)
class MalformedPlaceOrder:
    """A placement `placement_error` refuses, fields as given (of any type): what `PlaceOrder(...)`
    and the factories return for one. The engine answers it with `OrderRejected` and changes
    nothing. `interpreted`: a native class would check its fields' types instead."""

    order_id: Any
    account_id: Any
    side: Any
    order_type: Any
    quantity: Any
    price: Any
    quote_quantity: Any
    quote_limit: Any
    time_in_force: Any
    post_only: Any
    self_trade_prevention: Any
    client_id: Any
    trigger_price: Any
    trigger_kind: Any
    rejection: RejectReason = field(repr=False, compare=False)


@final
@mypyc_attr(acyclic=True)
@dataclass(frozen=True, slots=True, init=False)
class CancelOrder:
    """Cancel one open order (resting or trigger-pending) of `account_id`.

    With ids that are not plain ints, `CancelOrder(...)` returns a `MalformedCancelOrder` (which
    the engine handles exactly as it always did: by looking the values up as given)."""

    order_id: int
    account_id: int

    def __new__(cls, order_id: object, account_id: object) -> Any:
        if type(order_id) is not int or type(account_id) is not int:
            return MalformedCancelOrder(order_id, account_id)
        self = object.__new__(cls)
        object.__setattr__(self, "order_id", order_id)
        object.__setattr__(self, "account_id", account_id)
        return self

    def __init__(self, order_id: object, account_id: object) -> None:
        """See `PlaceOrder.__init__`."""

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (CancelOrder, (self.order_id, self.account_id))  # see `PlaceOrder.__reduce__`


@interpreted
@dataclass(frozen=True, slots=True)
class MalformedCancelOrder:
    """`CancelOrder` with ids of another type than int, as given (see `CancelOrder`)."""

    order_id: Any
    account_id: Any


@interpreted
@dataclass(frozen=True, slots=True)
class CancelAll:
    """Cancel every open order of `account_id` in this market, or only one kind of them.

    `interpreted` (rare, and its account may be of any type: it then matches nothing)."""

    account_id: int
    scope: CancelScope = CancelScope.ALL


Command = PlaceOrder | CancelOrder | CancelAll | MalformedPlaceOrder | MalformedCancelOrder


_INVALID_ORDER: Final = RejectReason.INVALID_ORDER
_INVALID_PRICE: Final = RejectReason.INVALID_PRICE
_INVALID_QUANTITY: Final = RejectReason.INVALID_QUANTITY
_STOP_LOSS: Final = TriggerKind.STOP_LOSS
_TAKE_PROFIT: Final = TriggerKind.TAKE_PROFIT
COMPILED: Final = compiled(__file__)  # see `matching.COMPILED`


def placement_error(cmd: Any) -> RejectReason | None:
    """Why the placement `cmd` (anything with a `PlaceOrder`'s fields) is malformed, or None.
    Duplicate ids are the engine's check (it needs the book)."""
    return _placement_error(
        cmd.order_id,
        cmd.account_id,
        cmd.side,
        cmd.order_type,
        cmd.quantity,
        cmd.price,
        cmd.quote_quantity,
        cmd.quote_limit,
        cmd.time_in_force,
        cmd.post_only,
        cmd.self_trade_prevention,
        cmd.client_id,
        cmd.trigger_price,
        cmd.trigger_kind,
    )


def _malformed(*fields: object) -> MalformedPlaceOrder | None:
    """The twin of a placement whose fields (in `PlaceOrder`'s order) `_placement_error` refuses,
    else None: the one check behind both the native constructor and the interpreted factory."""
    reason = _placement_error(*fields)
    # mypy cannot tell that the fourteen fields stop short of `rejection`.
    return None if reason is None else MalformedPlaceOrder(*fields, rejection=reason)  # type: ignore[arg-type, misc]


def _placement_error(
    order_id: object,
    account_id: object,
    side: object,
    order_type: object,
    quantity: object,
    price: object,
    quote_quantity: object,
    quote_limit: object,
    tif: object,
    post_only: object,
    stp: object,
    client_id: object,
    trigger_price: object,
    trigger_kind: object,
) -> RejectReason | None:
    """The engine relies on these: integer sizes, one sizing for market orders, a quote limit only
    on a market Bid by quantity, post-only only with GTC, a trigger kind exactly with a trigger
    price; every field of the type `PlaceOrder` declares (enum members compared by identity)."""
    if order_type is LIMIT:
        if type(price) is not int or price <= 0:
            return _INVALID_PRICE
        if type(quantity) is not int or quantity <= 0:
            return _INVALID_QUANTITY
        if quote_quantity is not None or quote_limit is not None:
            return _INVALID_ORDER
        if tif is not GTC and (post_only or (tif is not IOC and tif is not FOK)):
            return _INVALID_ORDER
    elif order_type is MARKET:
        if price is not None or post_only or (tif is not IOC and tif is not GTC and tif is not FOK):
            return _INVALID_ORDER
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
                side is not BID or type(quote_limit) is not int or quote_limit < 0
            ):
                return _INVALID_ORDER
    else:
        return _INVALID_ORDER
    if (
        (side is not BID and side is not ASK)
        or type(order_id) is not int
        or type(account_id) is not int
        or (client_id is not None and type(client_id) is not int)
        or type(post_only) is not bool
    ):
        return _INVALID_ORDER
    if stp is not REJECT_TAKER and stp is not ALLOW and stp is not REJECT_MAKER and stp is not REJECT_BOTH:
        return _INVALID_ORDER
    if trigger_price is not None:
        if type(trigger_price) is not int or trigger_price <= 0:
            return _INVALID_PRICE
        if trigger_kind is not _STOP_LOSS and trigger_kind is not _TAKE_PROFIT:
            return _INVALID_ORDER
    elif trigger_kind is not None:
        return _INVALID_ORDER
    return None


_new = object.__new__
_PlaceDraft = draft_class(PlaceOrder)
_CancelDraft = draft_class(CancelOrder)
_CancelAllDraft = draft_class(CancelAll)


def _place(
    order_id: object,
    account_id: object,
    side: object,
    order_type: object,
    quantity: object,
    price: object,
    quote_quantity: object,
    quote_limit: object,
    time_in_force: object,
    post_only: object,
    self_trade_prevention: object,
    client_id: object,
    trigger_price: object,
    trigger_kind: object,
) -> Any:
    """A `PlaceOrder` if well-formed, else a `MalformedPlaceOrder`."""
    if COMPILED:  # the native constructor
        return PlaceOrder(
            order_id,
            account_id,
            side,
            order_type,
            quantity,
            price,
            quote_quantity,
            quote_limit,
            time_in_force,
            post_only,
            self_trade_prevention,
            client_id,
            trigger_price,
            trigger_kind,
        )
    malformed = _malformed(
        order_id,
        account_id,
        side,
        order_type,
        quantity,
        price,
        quote_quantity,
        quote_limit,
        time_in_force,
        post_only,
        self_trade_prevention,
        client_id,
        trigger_price,
        trigger_kind,
    )
    if malformed is not None:
        return malformed
    # Interpreted: the draft trick (see `_frozen`).
    command: Any = _new(_PlaceDraft)
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
    command.rejection = None
    command.__class__ = PlaceOrder
    return command


def _cancel(order_id: object, account_id: object) -> Any:
    if COMPILED or type(order_id) is not int or type(account_id) is not int:
        return CancelOrder(order_id, account_id)
    command: Any = _new(_CancelDraft)
    command.order_id = order_id
    command.account_id = account_id
    command.__class__ = CancelOrder
    return command


def limit_order(
    order_id: object,
    account_id: object,
    side: object,
    price: object,
    quantity: object,
    time_in_force: object = GTC,
    post_only: object = False,
    self_trade_prevention: object = REJECT_TAKER,
    client_id: object = None,
    trigger_price: object = None,
    trigger_kind: object = None,
) -> PlaceOrder | MalformedPlaceOrder:
    """A GTC limit order unless told otherwise (see `PlaceOrder` for the fields' types, which
    are checked here: anything else gives a `MalformedPlaceOrder`)."""
    return _place(
        order_id,
        account_id,
        side,
        LIMIT,
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
    order_id: object,
    account_id: object,
    side: object,
    quantity: object = None,
    quote_quantity: object = None,
    quote_limit: object = None,
    time_in_force: object = IOC,
    self_trade_prevention: object = REJECT_TAKER,
    client_id: object = None,
    trigger_price: object = None,
    trigger_kind: object = None,
) -> PlaceOrder | MalformedPlaceOrder:
    """An IOC market order sized by `quantity` or `quote_quantity` (see `limit_order`)."""
    return _place(
        order_id,
        account_id,
        side,
        MARKET,
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


def cancel_order(order_id: object, account_id: object) -> CancelOrder | MalformedCancelOrder:
    return _cancel(order_id, account_id)  # type: ignore[no-any-return]


def cancel_all(account_id: object, scope: object = CancelScope.ALL) -> CancelAll:
    if COMPILED:  # `draft_class` gives no draft in a compiled module (CancelAll stays a Python class)
        return CancelAll(account_id, scope)  # type: ignore[arg-type]
    command = _new(_CancelAllDraft)
    command.account_id = account_id
    command.scope = scope
    command.__class__ = CancelAll
    return command  # type: ignore[no-any-return]
