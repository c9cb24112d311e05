"""Events: what the engine reports for each applied command, in the order it happened.

Units: prices in ticks, quantities in lots, quote amounts in notional units (ticks x lots); convert
at the edges with `exchange.engine.spec.MarketSpec`.

For one placed (or triggered) order the events come in this order, as on Backpack's order stream:
`OrderAccepted`, then its `Fill`s interleaved with `LevelChanged` for each level it consumed (and an
`OrderExpired` for each maker removed by self-trade prevention), then `LevelChanged` for the level it
rests on, or its own `OrderExpired`. `OrderAccepted` is first in the list but describes the order
once this command is done with it (status, executed amounts, lots left resting), so a persister can
update the order row from that single event.

A `Fill` is also the maker's state change: it carries the maker's executed amounts and remaining lots
after the trade (`maker_status` derives from them). The taker's state is in its `OrderAccepted`.
A trigger order reports `TriggerPlaced` when placed; when it fires, `OrderTriggered` precedes the
events of the order it becomes, after those of the incoming order whose trade fired it.

The `new_*` functions are the engine's fast builders (see `_frozen`); use the constructors elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from exchange.engine._frozen import compiled, draft_class, interpreted, mypyc_attr
from exchange.engine.enums import (
    ASK,
    BID,
    CANCELLED,
    EXPIRED,
    FILLED,
    PARTIALLY_FILLED,
    TRIGGER_PENDING,
    CancelRejectReason,
    ExpiryReason,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
    TriggerKind,
)

_new = object.__new__
COMPILED: Final = compiled(__file__)  # see `matching.COMPILED`


@mypyc_attr(acyclic=True, free_list_len=1)
@dataclass(frozen=True, slots=True, init=False)
class OrderAccepted:
    """An order entered matching; its state once this command finished with it.

    `status` is New or PartiallyFilled when `resting_lots > 0`, else Filled or Expired (an
    `OrderExpired` with the reason follows).
    """

    order_id: int
    account_id: int
    client_id: int | None
    side: Side
    order_type: OrderType
    status: OrderStatus
    executed_lots: int
    executed_quote: int
    resting_lots: int

    def __init__(
        self,
        order_id: int,
        account_id: int,
        client_id: int | None,
        side: Side,
        order_type: OrderType,
        status: OrderStatus,
        executed_lots: int,
        executed_quote: int,
        resting_lots: int,
    ) -> None:
        object.__setattr__(self, "order_id", order_id)
        object.__setattr__(self, "account_id", account_id)
        object.__setattr__(self, "client_id", client_id)
        object.__setattr__(self, "side", side)
        object.__setattr__(self, "order_type", order_type)
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "executed_lots", executed_lots)
        object.__setattr__(self, "executed_quote", executed_quote)
        object.__setattr__(self, "resting_lots", resting_lots)

    @property
    def is_resting(self) -> bool:
        return self.resting_lots > 0


@mypyc_attr(acyclic=True, free_list_len=1)
@dataclass(frozen=True, slots=True, init=False)
class Fill:
    """One trade between the taker and one resting maker, at the maker's price."""

    trade_id: int
    price: int
    lots: int
    taker_side: Side
    taker_order_id: int
    taker_account_id: int
    maker_order_id: int
    maker_account_id: int
    maker_remaining_lots: int
    maker_executed_lots: int
    maker_executed_quote: int

    def __init__(
        self,
        trade_id: int,
        price: int,
        lots: int,
        taker_side: Side,
        taker_order_id: int,
        taker_account_id: int,
        maker_order_id: int,
        maker_account_id: int,
        maker_remaining_lots: int,
        maker_executed_lots: int,
        maker_executed_quote: int,
    ) -> None:
        object.__setattr__(self, "trade_id", trade_id)
        object.__setattr__(self, "price", price)
        object.__setattr__(self, "lots", lots)
        object.__setattr__(self, "taker_side", taker_side)
        object.__setattr__(self, "taker_order_id", taker_order_id)
        object.__setattr__(self, "taker_account_id", taker_account_id)
        object.__setattr__(self, "maker_order_id", maker_order_id)
        object.__setattr__(self, "maker_account_id", maker_account_id)
        object.__setattr__(self, "maker_remaining_lots", maker_remaining_lots)
        object.__setattr__(self, "maker_executed_lots", maker_executed_lots)
        object.__setattr__(self, "maker_executed_quote", maker_executed_quote)

    @property
    def quote(self) -> int:
        return self.price * self.lots

    @property
    def maker_is_buyer(self) -> bool:
        return self.taker_side is ASK

    @property
    def maker_status(self) -> OrderStatus:
        return FILLED if self.maker_remaining_lots == 0 else PARTIALLY_FILLED

    @property
    def buyer_order_id(self) -> int:
        return self.taker_order_id if self.taker_side is BID else self.maker_order_id

    @property
    def seller_order_id(self) -> int:
        return self.maker_order_id if self.taker_side is BID else self.taker_order_id


@mypyc_attr(acyclic=True, free_list_len=1)
@dataclass(frozen=True, slots=True, init=False)
class LevelChanged:
    """The new absolute size of a price level, for depth feeds; `total_lots == 0` removes it."""

    side: Side
    price: int
    total_lots: int

    def __init__(self, side: Side, price: int, total_lots: int) -> None:
        object.__setattr__(self, "side", side)
        object.__setattr__(self, "price", price)
        object.__setattr__(self, "total_lots", total_lots)


@mypyc_attr(acyclic=True, free_list_len=1)
@dataclass(frozen=True, slots=True, init=False)
class OrderCancelled:
    """An open order (resting or trigger-pending) cancelled by its owner."""

    order_id: int
    account_id: int
    client_id: int | None
    executed_lots: int
    executed_quote: int

    def __init__(
        self,
        order_id: int,
        account_id: int,
        client_id: int | None,
        executed_lots: int,
        executed_quote: int,
    ) -> None:
        object.__setattr__(self, "order_id", order_id)
        object.__setattr__(self, "account_id", account_id)
        object.__setattr__(self, "client_id", client_id)
        object.__setattr__(self, "executed_lots", executed_lots)
        object.__setattr__(self, "executed_quote", executed_quote)

    @property
    def status(self) -> OrderStatus:
        return CANCELLED


@mypyc_attr(acyclic=True, free_list_len=1)
@dataclass(frozen=True, slots=True, init=False)
class OrderExpired:
    """An order closed by the engine: a taker's unfilled remainder, or a maker removed by STP."""

    order_id: int
    account_id: int
    client_id: int | None
    reason: ExpiryReason
    executed_lots: int
    executed_quote: int

    def __init__(
        self,
        order_id: int,
        account_id: int,
        client_id: int | None,
        reason: ExpiryReason,
        executed_lots: int,
        executed_quote: int,
    ) -> None:
        object.__setattr__(self, "order_id", order_id)
        object.__setattr__(self, "account_id", account_id)
        object.__setattr__(self, "client_id", client_id)
        object.__setattr__(self, "reason", reason)
        object.__setattr__(self, "executed_lots", executed_lots)
        object.__setattr__(self, "executed_quote", executed_quote)

    @property
    def status(self) -> OrderStatus:
        return EXPIRED


@interpreted
@dataclass(frozen=True, slots=True)
class CancelRejected:
    """A cancel that changed nothing: unknown or closed order, or another account's order.

    Its ids are the command's as given (`interpreted`: not type-checked when compiled)."""

    order_id: int
    account_id: int
    reason: CancelRejectReason


@interpreted
@dataclass(frozen=True, slots=True)
class OrderRejected:
    """A placement refused before it touched the book: malformed, or its order id is already open.

    Its fields are the command's as given, possibly of the wrong type (`interpreted`)."""

    order_id: int
    account_id: int
    client_id: int | None
    reason: RejectReason


@dataclass(frozen=True, slots=True)
class TriggerPlaced:
    """A trigger order is pending until the last trade price crosses `trigger_price`."""

    order_id: int
    account_id: int
    client_id: int | None
    side: Side
    trigger_price: int
    trigger_kind: TriggerKind

    @property
    def status(self) -> OrderStatus:
        return TRIGGER_PENDING


@dataclass(frozen=True, slots=True)
class OrderTriggered:
    """The trigger fired at `last_price`; the order's `OrderAccepted` and fills follow."""

    order_id: int
    account_id: int
    client_id: int | None
    trigger_price: int
    last_price: int


Event = (
    OrderAccepted
    | Fill
    | LevelChanged
    | OrderCancelled
    | OrderExpired
    | CancelRejected
    | OrderRejected
    | TriggerPlaced
    | OrderTriggered
)


@dataclass(frozen=True, slots=True, init=False)
class ApplyResult:
    """The outcome of one command (from `MatchingEngine.run`): its sequence number, the depth
    update id if the visible book changed (else None), and its events."""

    sequence: int
    update_id: int | None
    events: tuple[Event, ...]

    def __init__(self, sequence: int, update_id: int | None, events: tuple[Event, ...]) -> None:
        object.__setattr__(self, "sequence", sequence)
        object.__setattr__(self, "update_id", update_id)
        object.__setattr__(self, "events", events)


_AcceptedDraft = draft_class(OrderAccepted)
_FillDraft = draft_class(Fill)
_LevelDraft = draft_class(LevelChanged)
_CancelledDraft = draft_class(OrderCancelled)
_ExpiredDraft = draft_class(OrderExpired)


def new_accepted(
    order_id: int,
    account_id: int,
    client_id: int | None,
    side: Side,
    order_type: OrderType,
    status: OrderStatus,
    executed_lots: int,
    executed_quote: int,
    resting_lots: int,
) -> OrderAccepted:
    if COMPILED:
        return OrderAccepted(
            order_id,
            account_id,
            client_id,
            side,
            order_type,
            status,
            executed_lots,
            executed_quote,
            resting_lots,
        )
    event = _new(_AcceptedDraft)
    event.order_id = order_id
    event.account_id = account_id
    event.client_id = client_id
    event.side = side
    event.order_type = order_type
    event.status = status
    event.executed_lots = executed_lots
    event.executed_quote = executed_quote
    event.resting_lots = resting_lots
    event.__class__ = OrderAccepted
    return event  # type: ignore[no-any-return]


def new_fill(
    trade_id: int,
    price: int,
    lots: int,
    taker_side: Side,
    taker_order_id: int,
    taker_account_id: int,
    maker_order_id: int,
    maker_account_id: int,
    maker_remaining_lots: int,
    maker_executed_lots: int,
    maker_executed_quote: int,
) -> Fill:
    if COMPILED:
        return Fill(
            trade_id,
            price,
            lots,
            taker_side,
            taker_order_id,
            taker_account_id,
            maker_order_id,
            maker_account_id,
            maker_remaining_lots,
            maker_executed_lots,
            maker_executed_quote,
        )
    event = _new(_FillDraft)
    event.trade_id = trade_id
    event.price = price
    event.lots = lots
    event.taker_side = taker_side
    event.taker_order_id = taker_order_id
    event.taker_account_id = taker_account_id
    event.maker_order_id = maker_order_id
    event.maker_account_id = maker_account_id
    event.maker_remaining_lots = maker_remaining_lots
    event.maker_executed_lots = maker_executed_lots
    event.maker_executed_quote = maker_executed_quote
    event.__class__ = Fill
    return event  # type: ignore[no-any-return]


def new_level(side: Side, price: int, total_lots: int) -> LevelChanged:
    if COMPILED:
        return LevelChanged(side, price, total_lots)
    event = _new(_LevelDraft)
    event.side = side
    event.price = price
    event.total_lots = total_lots
    event.__class__ = LevelChanged
    return event  # type: ignore[no-any-return]


def new_cancelled(
    order_id: int, account_id: int, client_id: int | None, executed_lots: int, executed_quote: int
) -> OrderCancelled:
    if COMPILED:
        return OrderCancelled(order_id, account_id, client_id, executed_lots, executed_quote)
    event = _new(_CancelledDraft)
    event.order_id = order_id
    event.account_id = account_id
    event.client_id = client_id
    event.executed_lots = executed_lots
    event.executed_quote = executed_quote
    event.__class__ = OrderCancelled
    return event  # type: ignore[no-any-return]


def new_expired(
    order_id: int,
    account_id: int,
    client_id: int | None,
    reason: ExpiryReason,
    executed_lots: int,
    executed_quote: int,
) -> OrderExpired:
    if COMPILED:
        return OrderExpired(order_id, account_id, client_id, reason, executed_lots, executed_quote)
    event = _new(_ExpiredDraft)
    event.order_id = order_id
    event.account_id = account_id
    event.client_id = client_id
    event.reason = reason
    event.executed_lots = executed_lots
    event.executed_quote = executed_quote
    event.__class__ = OrderExpired
    return event  # type: ignore[no-any-return]
