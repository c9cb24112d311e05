"""Matching one incoming order against the book: price-time priority, STP, FOK, budgets, resting.

`execute` is the hot path of the engine, written as one function with locals bound up front
because every attribute lookup and call shows up per fill. It runs only for well-formed placements
with a fresh id: the engine rejects the others first (`PlaceOrder.rejection`, duplicate ids). A GTC
limit that does not cross, the commonest command, skips it: `MatchingEngine.apply` calls `rest`.

Rules it implements:
- Trades happen at the maker's price, best price first, then first come first served.
- Self-trade prevention is decided by the taker's setting when the next maker in priority belongs
  to the taker's account: RejectTaker expires the taker's remainder; RejectMaker expires that maker
  and matching goes on; RejectBoth expires both; Allow trades.
- Budgets: a market order by `quote_quantity` stops before the fill that would spend (or, for an
  Ask, receive) more than that quote; the part of a level that still fits is taken. Stopping on the
  budget fills the order; a market Bid's `quote_limit` works the same way but expires the remainder
  with InsufficientFunds.
- FOK is decided before anything changes by `_fillable`, a dry run that walks the book exactly as
  the match would (same price limit, same STP outcome, same budget). If it cannot fill in full the
  order expires with FillOrKill and nothing else happens: in particular no maker is expired by
  RejectMaker on behalf of an order that did not trade. Since the dry run mirrors the match, an FOK
  that passes always fills in full.
- Post-only: expires with PostOnlyTaker if its price would cross the best opposite price, whoever
  owns the opposite order.
- A GTC limit remainder rests; IOC and market remainders expire (ImmediateOrCancel).
"""

from __future__ import annotations

from bisect import insort
from typing import Any, Final

from exchange.engine._frozen import compiled
from exchange.engine.book import COMPACT_SLACK, Book, Level, Order, compact
from exchange.engine.commands import PlaceOrder
from exchange.engine.enums import (
    ALLOW,
    ASK,
    BID,
    EXPIRED,
    FILLED,
    FOK,
    GTC,
    LIMIT,
    NEW,
    PARTIALLY_FILLED,
    REJECT_BOTH,
    REJECT_MAKER,
    ExpiryReason,
    OrderStatus,
)
from exchange.engine.events import (
    Event,
    Fill,
    LevelChanged,
    OrderAccepted,
    _AcceptedDraft,
    _FillDraft,
    _LevelDraft,
    new_expired,
    new_level,
)

# Outcomes of `execute`, as ints so the caller tests them cheaply; TRADED implies CHANGED.
NOTHING: Final = 0
CHANGED: Final = 1
TRADED: Final = 2

# Stands for "no quantity limit" on orders sized by their quote budget; larger than any lot count.
_UNBOUNDED: Final = 1 << 62

_STP: Final = ExpiryReason.SELF_TRADE_PREVENTION
_IOC: Final = ExpiryReason.IMMEDIATE_OR_CANCEL
_FOK: Final = ExpiryReason.FILL_OR_KILL
_POST_ONLY: Final = ExpiryReason.POST_ONLY_TAKER
_FUNDS: Final = ExpiryReason.INSUFFICIENT_FUNDS
_new = object.__new__
# Compiled by mypyc, objects are built through their constructors (native, fast); interpreted, the
# hot ones are built field by field through drafts (see `_frozen`).
COMPILED: Final = compiled(__file__)


def execute(book: Book, cmd: PlaceOrder, events: list[Event]) -> int:
    """Match `cmd`, rest or expire its remainder, append its events; return NOTHING/CHANGED/TRADED."""
    side = cmd.side
    is_bid = side is BID
    is_limit = cmd.order_type is LIMIT
    price_limit = cmd.price
    limit = price_limit if price_limit is not None else 0  # market orders: unused (see `is_limit`)
    slot = len(events)
    events.append(None)  # type: ignore[arg-type]  # OrderAccepted goes here once the outcome is known
    order_id = cmd.order_id
    account = cmd.account_id
    quantity = cmd.quantity
    if quantity is None:  # market order sized by quote
        remaining = _UNBOUNDED
        budget = cmd.quote_quantity
        budget_reason = None  # spending the budget fills the order
    else:
        remaining = quantity
        budget = cmd.quote_limit
        budget_reason = _FUNDS
    if is_bid:
        okeys, olevels, oside, osign = book.ask_keys, book.ask_levels, ASK, -1
    else:
        okeys, olevels, oside, osign = book.bid_keys, book.bid_levels, BID, 1

    outcome = NOTHING
    reason: ExpiryReason | None = None
    spent = False  # stopped because the budget is used up
    executed = executed_quote = 0
    if okeys and (not is_limit or (osign * okeys[-1] <= limit if is_bid else osign * okeys[-1] >= limit)):
        stp = cmd.self_trade_prevention
        if cmd.post_only:
            reason = _POST_ONLY
        elif cmd.time_in_force is FOK and not _fillable(
            okeys,
            olevels,
            osign,
            is_bid,
            limit if is_limit else None,
            account,
            stp,
            remaining,
            budget,
            budget_reason,
        ):
            reason = _FOK
        else:
            stp_active = stp is not ALLOW
            orders = book.orders
            trade_id = book.trade_id
            price = last_price = 0
            while True:
                price = osign * okeys[-1]
                if is_limit and (price > limit if is_bid else price < limit):
                    break
                level = olevels[price]
                queue = level.orders
                head = level.head
                before = level.total
                while True:
                    maker = queue[head]
                    maker_remaining = maker.remaining
                    if not maker_remaining:  # cancelled earlier, skipped lazily
                        head += 1
                        continue
                    if stp_active and maker.account_id == account:
                        if stp is REJECT_MAKER or stp is REJECT_BOTH:
                            head += 1
                            del orders[maker.order_id]
                            maker.remaining = 0
                            level.total -= maker_remaining
                            level.live -= 1
                            outcome = CHANGED
                            events.append(
                                new_expired(
                                    maker.order_id,
                                    account,
                                    maker.client_id,
                                    _STP,
                                    maker.executed_lots,
                                    maker.executed_quote,
                                )
                            )
                            if stp is REJECT_BOTH:
                                reason = _STP
                                break
                            if not level.live:
                                break
                            continue
                        reason = _STP
                        break
                    lots = remaining if remaining < maker_remaining else maker_remaining
                    if budget is not None:
                        affordable = (budget - executed_quote) // price
                        if affordable < lots:
                            spent = True
                            if affordable <= 0:
                                break
                            lots = affordable
                    quote = price * lots
                    last_price = price
                    trade_id += 1
                    maker_remaining -= lots
                    maker.remaining = maker_remaining
                    maker_lots = maker.executed_lots + lots
                    maker.executed_lots = maker_lots
                    maker_quote = maker.executed_quote + quote
                    maker.executed_quote = maker_quote
                    level.total -= lots
                    remaining -= lots
                    executed += lots
                    executed_quote += quote
                    if COMPILED:
                        events.append(
                            Fill(
                                trade_id,
                                price,
                                lots,
                                side,
                                order_id,
                                account,
                                maker.order_id,
                                maker.account_id,
                                maker_remaining,
                                maker_lots,
                                maker_quote,
                            )
                        )
                    else:
                        # Inlined `new_fill` (one call less per fill; see `_frozen`).
                        fill = _new(_FillDraft)
                        fill.trade_id = trade_id
                        fill.price = price
                        fill.lots = lots
                        fill.taker_side = side
                        fill.taker_order_id = order_id
                        fill.taker_account_id = account
                        fill.maker_order_id = maker.order_id
                        fill.maker_account_id = maker.account_id
                        fill.maker_remaining_lots = maker_remaining
                        fill.maker_executed_lots = maker_lots
                        fill.maker_executed_quote = maker_quote
                        fill.__class__ = Fill
                        events.append(fill)
                    if not maker_remaining:
                        head += 1
                        del orders[maker.order_id]
                        level.live -= 1
                        if not level.live:
                            break
                    if not remaining or spent:
                        break
                if not level.live:
                    del olevels[price]
                    okeys.pop()
                    events.append(new_level(oside, price, 0))
                    if reason is not None or spent or not remaining or not okeys:
                        break
                else:
                    level.head = head
                    if head > COMPACT_SLACK and head + head > len(queue):
                        compact(level)  # the consumed prefix outgrew the rest
                    if level.total != before:
                        events.append(new_level(oside, price, level.total))
                    break
            if executed:
                outcome = TRADED
                book.trade_id = trade_id
                book.last_price = last_price
    elif cmd.time_in_force is FOK:
        reason = _FOK

    status = EXPIRED
    if reason is not None:
        pass
    elif spent:
        if budget_reason is not None:
            reason = budget_reason
        elif executed:
            status = FILLED
        else:  # the budget does not buy a single lot at the best price
            reason = _FUNDS
    elif not remaining:
        status = FILLED
    elif is_limit and cmd.time_in_force is GTC:
        status = PARTIALLY_FILLED if executed else NEW
        rest(book, cmd, order_id, limit, remaining, executed, executed_quote, status, events, slot)
        return CHANGED if outcome == NOTHING else outcome
    else:
        reason = _IOC
    if reason is not None:
        events.append(new_expired(order_id, account, cmd.client_id, reason, executed, executed_quote))
    if COMPILED:
        events[slot] = OrderAccepted(
            order_id, account, cmd.client_id, side, cmd.order_type, status, executed, executed_quote, 0
        )
        return outcome
    accepted = _new(_AcceptedDraft)
    accepted.order_id = order_id
    accepted.account_id = account
    accepted.client_id = cmd.client_id
    accepted.side = side
    accepted.order_type = cmd.order_type
    accepted.status = status
    accepted.executed_lots = executed
    accepted.executed_quote = executed_quote
    accepted.resting_lots = 0
    accepted.__class__ = OrderAccepted
    events[slot] = accepted
    return outcome


def rest(
    book: Book,
    cmd: PlaceOrder,
    order_key: object,
    price: int,
    remaining: int,
    executed: int,
    executed_quote: int,
    status: OrderStatus,
    events: list[Event],
    slot: int,
) -> None:
    """Put the order's remainder on the book: its `OrderAccepted` goes to `events[slot]` (the slot
    the caller reserved before the fills) or, with `slot` -1, is appended; `LevelChanged` follows.
    `order_key` is `cmd.order_id` as the caller has it boxed (compiled, an int is a C value that
    becomes a new Python int each time it is used as a dict key)."""
    # `Book.rest` is inlined, and interpreted so are `Order(...)`, `Level(...)` and the event
    # constructors: this runs for most orders, and each call saved is worth a tenth of its time.
    order_id = cmd.order_id
    side = cmd.side
    account = cmd.account_id
    client_id = cmd.client_id
    quantity = cmd.quantity
    assert quantity is not None  # only limit orders rest, and they are sized in lots
    if COMPILED:
        order = Order(
            order_id, account, client_id, side, price, quantity, remaining, executed, executed_quote
        )
    else:
        order = _new(Order)
        order.order_id = order_id
        order.account_id = account
        order.client_id = client_id
        order.side = side
        order.price = price
        order.quantity = quantity
        order.remaining = remaining
        order.executed_lots = executed
        order.executed_quote = executed_quote
    if side is BID:
        levels = book.bid_levels
        key = price
    else:
        levels = book.ask_levels
        key = -price
    price_key: Any = price  # compiled, boxed once for both dict operations
    level = levels.get(price_key)
    if level is None:
        keys = book.bid_keys if side is BID else book.ask_keys
        if COMPILED:
            level = Level(price)
        else:
            level = _new(Level)
            level.price = price
            level.total = level.live = level.head = 0
            level.orders = []
        levels[price_key] = level
        if not keys or key > keys[-1]:
            keys.append(key)
        else:
            insort(keys, key)
    level.orders.append(order)
    total = level.total = level.total + remaining
    level.live += 1
    book.orders[order_key] = order  # type: ignore[index]
    if COMPILED:
        accepted = OrderAccepted(
            order_id, account, client_id, side, LIMIT, status, executed, executed_quote, remaining
        )
        changed = LevelChanged(side, price, total)
    else:
        accepted = _new(_AcceptedDraft)
        accepted.order_id = order_id
        accepted.account_id = account
        accepted.client_id = client_id
        accepted.side = side
        accepted.order_type = LIMIT
        accepted.status = status
        accepted.executed_lots = executed
        accepted.executed_quote = executed_quote
        accepted.resting_lots = remaining
        accepted.__class__ = OrderAccepted
        changed = _new(_LevelDraft)
        changed.side = side
        changed.price = price
        changed.total_lots = total
        changed.__class__ = LevelChanged
    if slot < 0:
        events.append(accepted)
    else:
        events[slot] = accepted
    events.append(changed)


def _fillable(
    okeys: list[int],
    olevels: dict[int, Level],
    osign: int,
    is_bid: bool,
    limit: int | None,
    account: int,
    stp: object,
    remaining: int,
    budget: int | None,
    budget_reason: ExpiryReason | None,
) -> bool:
    """Would `execute` fill this order in full? Walks the book without changing it."""
    stp_active = stp is not ALLOW
    spent = 0
    for key in reversed(okeys):
        price = osign * key
        if limit is not None and (price > limit if is_bid else price < limit):
            return False
        for maker in olevels[price].orders:
            maker_remaining = maker.remaining
            if not maker_remaining:
                continue
            if stp_active and maker.account_id == account:
                if stp is REJECT_MAKER:
                    continue
                return False
            lots = remaining if remaining < maker_remaining else maker_remaining
            if budget is not None:
                affordable = (budget - spent) // price
                if affordable < lots:
                    # The budget stops the order here: that fills a quote-sized order (if anything
                    # trades at all) and expires one limited by the sequencer's reservation.
                    return budget_reason is None and (spent > 0 or affordable > 0)
            remaining -= lots
            spent += lots * price
            if not remaining:
                return True
    return False
