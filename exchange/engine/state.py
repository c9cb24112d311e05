"""Read-only views of the engine: snapshots (to restart from) and depth (to publish).

A `Snapshot` is everything needed to rebuild an engine that behaves exactly like the one it was taken
from: counters, last trade price, resting orders in priority order and pending triggers in firing
priority. A worker that restarts builds one from the database (open orders sorted by side, price
priority and the order in which they entered the book; pending triggers as their `PlaceOrder`
commands, in placement order) and calls `MatchingEngine.restore`.
"""

from __future__ import annotations

from dataclasses import dataclass

from exchange.engine.commands import PlaceOrder
from exchange.engine.enums import Side


@dataclass(frozen=True, slots=True)
class RestingOrder:
    """A limit order on the book. `quantity` is the original size; `remaining` is still resting."""

    order_id: int
    account_id: int
    side: Side
    price: int
    quantity: int
    remaining: int
    executed_lots: int = 0
    executed_quote: int = 0
    client_id: int | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Counters are the last values used: the next command gets `sequence + 1`, and so on.

    `orders` lists each side best price first, oldest first within a price (the sides may come in
    either order or interleaved); `triggers` lists pending trigger orders oldest first within each
    trigger price, as `MatchingEngine.snapshot` returns them.
    """

    sequence: int
    update_id: int
    trade_id: int
    last_price: int | None
    orders: tuple[RestingOrder, ...]
    triggers: tuple[PlaceOrder, ...] = ()


@dataclass(frozen=True, slots=True)
class Depth:
    """Aggregated book: (price, total lots) with bids best (highest) first and asks best (lowest)
    first. `update_id` is the depth stream's `lastUpdateId`."""

    bids: tuple[tuple[int, int], ...]
    asks: tuple[tuple[int, int], ...]
    best_bid: int | None
    best_ask: int | None
    last_price: int | None
    update_id: int
