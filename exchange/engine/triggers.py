"""Pending trigger orders (stop-loss / take-profit), keyed by the price at which they fire.

The rule: a trigger order fires when the LAST TRADE PRICE reaches its trigger price from the side
given by its kind and side (`TriggerKind`): "rising" triggers (Bid stop-loss, Ask take-profit) fire
when last >= trigger, "falling" triggers (Ask stop-loss, Bid take-profit) when last <= trigger.
Reaching the price exactly fires. A trigger whose condition already holds when it is placed fires
at once; one placed before any trade waits for the first trade.

Firing order is deterministic: after an incoming order has finished matching, every trigger whose
condition holds fires, rising ones by trigger price ascending, then falling ones by trigger price
descending, ties by placement order. Within one incoming order the trade prices move in one
direction only, so this is the order in which the trades crossed the trigger prices. The engine
runs the fired orders one by one in that order; trades they make can fire further triggers, which
queue behind the ones already fired.
"""

from __future__ import annotations

from bisect import bisect_left, insort

from exchange.engine.commands import PlaceOrder
from exchange.engine.enums import BID, TriggerKind

_STOP_LOSS = TriggerKind.STOP_LOSS

# (trigger key, placement counter, order id); the key is the trigger price for rising triggers and
# the negated trigger price for falling ones, so both lists fire from the front in ascending order.
_Entry = tuple[int, int, int]


def is_rising(command: PlaceOrder) -> bool:
    return (command.side is BID) == (command.trigger_kind is _STOP_LOSS)


def condition_met(command: PlaceOrder, last_price: int) -> bool:
    trigger = command.trigger_price
    assert trigger is not None
    return last_price >= trigger if is_rising(command) else last_price <= trigger


def trigger_kind_for(side: object, trigger_price: int, last_price: int | None) -> TriggerKind:
    """The kind for Backpack's plain `triggerPrice`, which names no direction: a trigger above the
    last price waits for the price to rise, one below for it to fall (no last price: stop-loss)."""
    if last_price is None:
        return _STOP_LOSS
    rising = trigger_price >= last_price
    return _STOP_LOSS if rising == (side is BID) else TriggerKind.TAKE_PROFIT


class TriggerBook:
    __slots__ = ("_placed", "by_id", "falling", "rising")

    def __init__(self) -> None:
        self.by_id: dict[int, tuple[PlaceOrder, _Entry, bool]] = {}
        self.rising: list[_Entry] = []
        self.falling: list[_Entry] = []
        self._placed = 0

    def __len__(self) -> int:
        return len(self.by_id)

    def get(self, order_id: int) -> PlaceOrder | None:
        entry = self.by_id.get(order_id)
        return entry[0] if entry is not None else None

    def add(self, command: PlaceOrder) -> None:
        self._placed += 1
        rising = is_rising(command)
        trigger = command.trigger_price
        assert trigger is not None
        entry = (trigger if rising else -trigger, self._placed, command.order_id)
        entries = self.rising if rising else self.falling
        if not entries or entry > entries[-1]:
            entries.append(entry)
        else:
            insort(entries, entry)
        self.by_id[command.order_id] = (command, entry, rising)

    def remove(self, order_id: int) -> PlaceOrder | None:
        found = self.by_id.pop(order_id, None)
        if found is None:
            return None
        command, entry, rising = found
        entries = self.rising if rising else self.falling
        del entries[bisect_left(entries, entry)]
        return command

    def is_due(self, last_price: int) -> bool:
        rising, falling = self.rising, self.falling
        return bool((rising and rising[0][0] <= last_price) or (falling and falling[0][0] <= -last_price))

    def fire(self, last_price: int) -> list[PlaceOrder]:
        """Remove and return, in firing order, every trigger whose condition holds at `last_price`."""
        fired: list[PlaceOrder] = []
        for entries, bound in ((self.rising, last_price), (self.falling, -last_price)):
            count = 0
            while count < len(entries) and entries[count][0] <= bound:
                fired.append(self.by_id.pop(entries[count][2])[0])
                count += 1
            del entries[:count]
        return fired

    def pending(self) -> list[PlaceOrder]:
        """Every pending trigger in firing priority (rising, then falling), for snapshots."""
        by_id = self.by_id
        return [by_id[entry[2]][0] for entries in (self.rising, self.falling) for entry in entries]
