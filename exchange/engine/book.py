"""The order book of one market: price levels per side, FIFO queues, resting orders by id.

Layout, chosen for CPython speed:
- Each side keeps a dict price -> `Level` and a sorted list of *keys* where a larger key is a better
  price: the price itself for bids, the negated price for asks. The best level is always `keys[-1]`,
  so consuming the top of book is `list.pop()`, and a new level is one `bisect.insort`.
- A level is a list of `Order`s in time priority from index `head` on, plus its total lots and
  count of live orders (a list, not a deque: compiled, appending and indexing a list are direct
  calls, a deque's methods are looked up by name). Matching consumes the queue by moving `head`;
  everything before `head` is dead. Cancelling is O(1): the order is marked dead
  (`remaining = 0`) and left in the list; matching skips dead orders when they reach the head, and
  a level whose list is mostly dead is compacted.
  Invariant: a level exists iff it has a live order, and `total` is the sum of its live remainders.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator
from itertools import islice
from typing import Any, Final

from exchange.engine._frozen import mypyc_attr
from exchange.engine.enums import BID, Side


@mypyc_attr(acyclic=True, free_list_len=1)
class Order:
    """A resting limit order (mutable, engine-internal)."""

    __slots__ = (
        "account_id",
        "client_id",
        "executed_lots",
        "executed_quote",
        "order_id",
        "price",
        "quantity",
        "remaining",
        "side",
    )

    def __init__(
        self,
        order_id: int,
        account_id: int,
        client_id: int | None,
        side: Side,
        price: int,
        quantity: int,
        remaining: int,
        executed_lots: int,
        executed_quote: int,
    ) -> None:
        self.order_id = order_id
        self.account_id = account_id
        self.client_id = client_id
        self.side = side
        self.price = price
        self.quantity = quantity
        self.remaining = remaining
        self.executed_lots = executed_lots
        self.executed_quote = executed_quote


@mypyc_attr(acyclic=True, free_list_len=1)
class Level:
    __slots__ = ("head", "live", "orders", "price", "total")

    def __init__(self, price: int) -> None:
        self.price = price
        self.total = 0
        self.live = 0
        self.orders: list[Order] = []
        self.head = 0


# A level's list is rebuilt when its dead entries outnumber the live ones by this margin, so
# memory stays proportional to live orders while the rebuild cost is amortised over the cancels.
COMPACT_SLACK: Final = 16


def compact(level: Level) -> None:
    """Drop the dead orders of a level's list (its head goes back to 0)."""
    level.orders = [o for o in level.orders if o.remaining]
    level.head = 0


class Book:
    """Both sides of one market plus the resting orders by id, the last trade price and trade id."""

    __slots__ = ("ask_keys", "ask_levels", "bid_keys", "bid_levels", "last_price", "orders", "trade_id")

    def __init__(self, *, trade_id: int = 0, last_price: int | None = None) -> None:
        self.bid_levels: dict[int, Level] = {}
        self.bid_keys: list[int] = []
        self.ask_levels: dict[int, Level] = {}
        self.ask_keys: list[int] = []
        self.orders: dict[int, Order] = {}
        self.trade_id = trade_id
        self.last_price = last_price

    def rest(self, order: Order) -> Level:
        """Append `order` at the back of its price level, creating the level if needed."""
        price = order.price
        if order.side is BID:
            levels, keys, key = self.bid_levels, self.bid_keys, price
        else:
            levels, keys, key = self.ask_levels, self.ask_keys, -price
        level = levels.get(price)
        if level is None:
            level = levels[price] = Level(price)
            if not keys or key > keys[-1]:
                keys.append(key)
            else:
                insort(keys, key)
        level.orders.append(order)
        level.total += order.remaining
        level.live += 1
        self.orders[order.order_id] = order
        return level

    def remove(self, order: Order) -> Level:
        """Take a resting order off the book (cancel or STP), returning its level for the new total."""
        del self.orders[order.order_id]
        return self.unlink(order)

    def unlink(self, order: Order) -> Level:
        """`remove` except for the `orders` entry, which the caller has deleted."""
        price: Any = order.price  # boxed once for both dict operations below
        is_bid = order.side is BID
        levels = self.bid_levels if is_bid else self.ask_levels
        level = levels[price]
        level.total -= order.remaining
        level.live -= 1
        order.remaining = 0
        if not level.live:
            del levels[price]
            keys = self.bid_keys if is_bid else self.ask_keys
            key = order.price if is_bid else -order.price
            if keys[-1] == key:
                keys.pop()
            else:
                del keys[bisect_left(keys, key)]
        elif len(level.orders) > 2 * level.live + COMPACT_SLACK:
            compact(level)
        return level

    def best_bid(self) -> int | None:
        return self.bid_keys[-1] if self.bid_keys else None

    def best_ask(self) -> int | None:
        return -self.ask_keys[-1] if self.ask_keys else None

    def levels(self, side: Side, limit: int | None = None) -> list[tuple[int, int]]:
        """(price, total lots) from the best level outwards."""
        keys = self.bid_keys if side is BID else self.ask_keys
        levels = self.bid_levels if side is BID else self.ask_levels
        sign = 1 if side is BID else -1
        return [(sign * key, levels[sign * key].total) for key in islice(reversed(keys), limit)]

    def resting(self, side: Side) -> Iterator[Order]:
        """Live orders of one side in priority order: best price first, then time."""
        keys = self.bid_keys if side is BID else self.ask_keys
        levels = self.bid_levels if side is BID else self.ask_levels
        sign = 1 if side is BID else -1
        for key in reversed(keys):
            for order in levels[sign * key].orders:
                if order.remaining:
                    yield order

    def is_crossed(self) -> bool:
        return bool(self.bid_keys and self.ask_keys and self.bid_keys[-1] >= -self.ask_keys[-1])

    def side_of(self, side: Side) -> tuple[dict[int, Level], list[int]]:
        return (self.bid_levels, self.bid_keys) if side is BID else (self.ask_levels, self.ask_keys)
