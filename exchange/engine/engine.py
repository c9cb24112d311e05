"""`MatchingEngine`: one market's book, fed one command at a time by that market's single worker.

    engine = MatchingEngine()
    events = engine.apply(limit_order(order_id=1, account_id=7, side=Side.BID, price=100, quantity=5))
    engine.sequence, engine.update_id  # this command's sequence; the depth update id

Counters (all resumable through the constructor or a `Snapshot`):
- `sequence`: every applied command gets the next one, rejected commands included.
- `update_id`: incremented once by each command that changed the visible book (a level's size), so
  a batch of commands publishes depth with `U` = first and `u` = last of its update ids, and
  `U` = previous `u` + 1 as Backpack's depth stream requires.
- `trade_id`: each fill gets the next one.

Determinism: the engine reads no clock, no randomness and iterates no container whose order could
differ between runs or after a restore, so the same commands give the same events and book.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any, Final, cast

from exchange.engine._frozen import compiled
from exchange.engine.book import Book, Level, Order
from exchange.engine.commands import (
    CancelAll,
    CancelOrder,
    Command,
    MalformedCancelOrder,
    MalformedPlaceOrder,
    PlaceOrder,
)
from exchange.engine.enums import (
    ASK,
    BID,
    GTC,
    LIMIT,
    NEW,
    CancelRejectReason,
    CancelScope,
    RejectReason,
    TriggerKind,
)
from exchange.engine.events import (
    ApplyResult,
    CancelRejected,
    Event,
    LevelChanged,
    OrderCancelled,
    OrderRejected,
    OrderTriggered,
    TriggerPlaced,
    _CancelledDraft,
    _LevelDraft,
    new_cancelled,
    new_level,
)
from exchange.engine.matching import CHANGED, NOTHING, TRADED, execute, rest
from exchange.engine.state import Depth, RestingOrder, Snapshot
from exchange.engine.triggers import TriggerBook, condition_met

_new = object.__new__
_STOP_LOSS: Final = TriggerKind.STOP_LOSS
_TAKE_PROFIT: Final = TriggerKind.TAKE_PROFIT
_DUPLICATE_ORDER_ID: Final = RejectReason.DUPLICATE_ORDER_ID
# Final copies: compiled, each is a C static instead of a lookup in the module's dict per command.
_PLACE_ORDER: Final = PlaceOrder
_CANCEL_ORDER: Final = CancelOrder
_CANCEL_ALL: Final = CancelAll
_MALFORMED_PLACE: Final = MalformedPlaceOrder
_MALFORMED_CANCEL: Final = MalformedCancelOrder
COMPILED: Final = compiled(__file__)  # see `matching.COMPILED`


class SnapshotError(ValueError):
    """The snapshot cannot describe a real book (crossed, duplicate ids, bad sizes or order)."""


class MatchingEngine:
    __slots__ = ("book", "sequence", "triggers", "update_id")

    def __init__(
        self, *, sequence: int = 0, update_id: int = 0, trade_id: int = 0, last_price: int | None = None
    ) -> None:
        self.book = Book(trade_id=trade_id, last_price=last_price)
        self.triggers = TriggerBook()
        self.sequence = sequence
        self.update_id = update_id

    @property
    def trade_id(self) -> int:
        return self.book.trade_id

    @property
    def last_price(self) -> int | None:
        return self.book.last_price

    def apply(self, command: Command) -> list[Event]:
        """Apply one command and return its events.

        Afterwards `sequence` is this command's sequence number; if the command changed the visible
        book (its events include a `LevelChanged`), `update_id` is its depth update id.
        """
        events: list[Event] = []
        kind = type(command)
        if kind is _PLACE_ORDER:
            # The placement path is inlined here: it runs for most commands. A `PlaceOrder` is
            # well-formed (`commands`), so its fields have their declared types.
            place = cast(PlaceOrder, command)
            book = self.book
            order_key: Any = place.order_id  # compiled, boxed once for every dict operation
            by_id = self.triggers.by_id
            if order_key in book.orders or (by_id and order_key in by_id):
                events.append(
                    OrderRejected(place.order_id, place.account_id, place.client_id, _DUPLICATE_ORDER_ID)
                )
                outcome = NOTHING
            elif place.trigger_price is not None:
                outcome = self._place_trigger(place, events)
            else:
                if place.order_type is LIMIT and place.time_in_force is GTC:
                    # Fast path for the commonest command of all: a GTC limit that does not cross.
                    price = place.price
                    assert price is not None  # a well-formed limit order has one
                    if place.side is BID:
                        keys = book.ask_keys
                        crosses = bool(keys) and -keys[-1] <= price
                    else:
                        keys = book.bid_keys
                        crosses = bool(keys) and keys[-1] >= price
                    if not crosses:
                        quantity = place.quantity
                        assert quantity is not None  # a well-formed limit order has one
                        rest(book, place, order_key, price, quantity, 0, 0, NEW, events, -1)
                        self.sequence += 1
                        self.update_id += 1
                        return events
                outcome = execute(book, place, events)
                last_price = book.last_price
                triggers = self.triggers
                if (
                    outcome == TRADED
                    and triggers.by_id
                    and last_price is not None
                    and triggers.is_due(last_price)
                ):
                    self._run_triggers(triggers.fire(last_price), events)
        elif kind is _CANCEL_ORDER:
            cancel = cast(CancelOrder, command)
            outcome = self._cancel(cancel.order_id, cancel.account_id, events)
        elif kind is _MALFORMED_CANCEL:
            raw: Any = command  # ids of any type, looked up as given: they find nothing, or equal ints
            outcome = self._cancel(raw.order_id, raw.account_id, events)
        elif kind is _MALFORMED_PLACE:
            raw = command  # as given: a malformed command's fields may have any type (`OrderRejected`)
            events.append(OrderRejected(raw.order_id, raw.account_id, raw.client_id, raw.rejection))
            outcome = NOTHING
        elif kind is _CANCEL_ALL:
            outcome = self._cancel_all(cast(CancelAll, command), events)
        else:
            raise TypeError(f"not an engine command: {command!r}")
        self.sequence += 1
        if outcome:
            self.update_id += 1
        return events

    def run(self, commands: Iterable[Command]) -> list[ApplyResult]:
        """Apply commands in order; each result carries its sequence and update id (None if the
        visible book did not change). A worker applies a batch with this."""
        results = []
        for command in commands:
            update_id = self.update_id
            events = self.apply(command)
            changed = self.update_id != update_id
            results.append(ApplyResult(self.sequence, self.update_id if changed else None, tuple(events)))
        return results

    # -- placing ---------------------------------------------------------------------------------

    def _place_trigger(self, cmd: PlaceOrder, events: list[Event]) -> int:
        trigger_price, trigger_kind = cmd.trigger_price, cmd.trigger_kind
        # Both set: checked by `placement_error`.
        assert trigger_price is not None
        assert trigger_kind is not None
        events.append(
            TriggerPlaced(cmd.order_id, cmd.account_id, cmd.client_id, cmd.side, trigger_price, trigger_kind)
        )
        last = self.book.last_price
        if last is None or not condition_met(cmd, last):
            self.triggers.add(cmd)
            return NOTHING
        return self._run_triggers([cmd], events)

    def _run_triggers(self, fired: list[PlaceOrder], events: list[Event]) -> int:
        """Run fired trigger orders in order; their trades may fire more, which queue behind."""
        book, triggers = self.book, self.triggers
        queue = deque(fired)
        outcome = NOTHING
        while queue:
            cmd = queue.popleft()
            trigger_price, last_price = cmd.trigger_price, book.last_price
            # A trigger fires only on a last price, and only trigger orders are queued here.
            assert trigger_price is not None
            assert last_price is not None
            events.append(
                OrderTriggered(cmd.order_id, cmd.account_id, cmd.client_id, trigger_price, last_price)
            )
            result = execute(book, cmd, events)
            outcome = max(outcome, result)
            last_price = book.last_price
            if result == TRADED and triggers.by_id and last_price is not None and triggers.is_due(last_price):
                queue.extend(triggers.fire(last_price))
        return outcome

    # -- cancelling ------------------------------------------------------------------------------

    def _cancel(self, order_id: Any, account_id: Any, events: list[Event]) -> int:
        # Untyped: a `MalformedCancelOrder`'s ids of another type find nothing (or the order whose
        # id they equal, as a dict lookup does) and give `CancelRejected` rather than a TypeError.
        orders = self.book.orders
        order = orders.get(order_id)
        if order is not None and _owned_by(order, account_id):
            executed_lots, executed_quote = order.executed_lots, order.executed_quote
            del orders[order_id]
            level = self.book.unlink(order)
            if COMPILED:
                events.append(
                    OrderCancelled(
                        order.order_id, order.account_id, order.client_id, executed_lots, executed_quote
                    )
                )
                events.append(LevelChanged(order.side, order.price, level.total))
                return CHANGED
            # Inlined `new_cancelled` and `new_level`: cancels are a third of all commands.
            cancelled = _new(_CancelledDraft)
            cancelled.order_id = order.order_id
            cancelled.account_id = order.account_id
            cancelled.client_id = order.client_id
            cancelled.executed_lots = executed_lots
            cancelled.executed_quote = executed_quote
            cancelled.__class__ = OrderCancelled
            changed = _new(_LevelDraft)
            changed.side = order.side
            changed.price = order.price
            changed.total_lots = level.total
            changed.__class__ = LevelChanged
            events.append(cancelled)
            events.append(changed)
            return CHANGED
        found = self.triggers.by_id.get(order_id)  # not `TriggerBook.get`: that one takes an int
        pending = found[0] if found is not None else None
        if pending is not None and pending.account_id == account_id:
            self.triggers.remove(pending.order_id)
            events.append(new_cancelled(pending.order_id, pending.account_id, pending.client_id, 0, 0))
            return NOTHING
        events.append(CancelRejected(order_id, account_id, CancelRejectReason.NOT_FOUND))
        return NOTHING

    def _cancel_all(self, cmd: CancelAll, events: list[Event]) -> int:
        """Cancel the account's resting orders by ascending order id, report each touched level
        once (bids best first, then asks best first), then cancel its pending triggers by ascending
        order id. Ordering by id rather than by container order keeps it identical after a restore."""
        raw: Any = cmd  # untyped, as in `_cancel`
        account, scope = raw.account_id, cmd.scope
        outcome = NOTHING
        if scope is not CancelScope.TRIGGER:
            mine = sorted((o for o in self.book.orders.values() if o.account_id == account), key=_order_id)
            touched: dict[tuple[int, int], Level] = {}
            for order in mine:
                level = self.book.remove(order)
                events.append(
                    new_cancelled(
                        order.order_id,
                        order.account_id,
                        order.client_id,
                        order.executed_lots,
                        order.executed_quote,
                    )
                )
                touched[(0, -order.price) if order.side is BID else (1, order.price)] = level
            for (is_ask, key), level in sorted(touched.items()):
                events.append(new_level(ASK if is_ask else BID, key if is_ask else -key, level.total))
            outcome = CHANGED if mine else NOTHING
        if scope is not CancelScope.RESTING_LIMIT:
            pending = sorted(c.order_id for c in self.triggers.pending() if c.account_id == account)
            for order_id in pending:
                command = self.triggers.remove(order_id)
                assert command is not None
                events.append(new_cancelled(order_id, command.account_id, command.client_id, 0, 0))
        return outcome

    # -- reading, snapshots ----------------------------------------------------------------------

    def depth(self, limit: int | None = None) -> Depth:
        book = self.book
        return Depth(
            bids=tuple(book.levels(BID, limit)),
            asks=tuple(book.levels(ASK, limit)),
            best_bid=book.best_bid(),
            best_ask=book.best_ask(),
            last_price=book.last_price,
            update_id=self.update_id,
        )

    def order(self, order_id: int) -> RestingOrder | None:
        """The resting order with this id, or None (trigger-pending and closed orders included)."""
        order = self.book.orders.get(order_id)
        return _resting(order) if order is not None else None

    def open_orders(self, account_id: int) -> list[RestingOrder]:
        return [
            _resting(o)
            for o in sorted(self.book.orders.values(), key=_order_id)
            if o.account_id == account_id
        ]

    def pending_triggers(self) -> list[PlaceOrder]:
        return self.triggers.pending()

    def snapshot(self) -> Snapshot:
        book = self.book
        orders = tuple(_resting(o) for side in (BID, ASK) for o in book.resting(side))
        return Snapshot(
            self.sequence,
            self.update_id,
            book.trade_id,
            book.last_price,
            orders,
            tuple(self.triggers.pending()),
        )

    @classmethod
    def restore(cls, snapshot: Snapshot) -> MatchingEngine:
        """A new engine in the state described by `snapshot` (see `state.Snapshot` for the order)."""
        engine = cls(
            sequence=snapshot.sequence,
            update_id=snapshot.update_id,
            trade_id=snapshot.trade_id,
            last_price=snapshot.last_price,
        )
        book = engine.book
        previous: dict[object, int] = {}
        for row in snapshot.orders:
            if row.order_id in book.orders:
                raise SnapshotError(f"order {row.order_id} appears twice")
            if row.side is not BID and row.side is not ASK:
                raise SnapshotError(f"order {row.order_id} has no valid side")
            if not 0 < row.remaining <= row.quantity - row.executed_lots or row.price <= 0:
                raise SnapshotError(f"order {row.order_id} has inconsistent sizes or price")
            last = previous.get(row.side)
            if last is not None and (row.price > last if row.side is BID else row.price < last):
                raise SnapshotError(f"order {row.order_id} is out of priority order")
            previous[row.side] = row.price
            book.rest(
                Order(
                    row.order_id,
                    row.account_id,
                    row.client_id,
                    row.side,
                    row.price,
                    row.quantity,
                    row.remaining,
                    row.executed_lots,
                    row.executed_quote,
                )
            )
        if book.is_crossed():
            raise SnapshotError("the resting orders cross: best bid >= best ask")
        for command in snapshot.triggers:
            malformed: Any = command
            if type(malformed) is MalformedPlaceOrder:
                raise SnapshotError(f"trigger order {malformed.order_id} is malformed: {malformed.rejection}")
            if type(command) is not PlaceOrder or command.trigger_price is None:
                raise SnapshotError(f"{command!r} is not a trigger order")
            if command.order_id in engine.triggers.by_id or command.order_id in book.orders:
                raise SnapshotError(f"trigger order {command.order_id} appears twice")
            if snapshot.last_price is not None and condition_met(command, snapshot.last_price):
                raise SnapshotError(f"trigger order {command.order_id} should have fired at the last price")
            engine.triggers.add(command)
        return engine


def _owned_by(order: Order, account_id: object) -> bool:
    if isinstance(account_id, int):  # compiled, this branch compares native ints (no boxing)
        return order.account_id == account_id
    return account_id == order.account_id


def _order_id(order: Order) -> int:
    return order.order_id


def _resting(order: Order) -> RestingOrder:
    return RestingOrder(
        order.order_id,
        order.account_id,
        order.side,
        order.price,
        order.quantity,
        order.remaining,
        order.executed_lots,
        order.executed_quote,
        order.client_id,
    )
