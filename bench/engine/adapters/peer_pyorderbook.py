"""pyorderbook (pure Python: heap of price levels, dict FIFO per level, Decimal prices).

Faithful mapping: limit -> `match(Order)`; it has no market orders, so a market order is a limit
at an unreachable price (10**12 for a bid, 0 for an ask) whose remainder is then cancelled, as the
stream's market orders never rest; cancel -> `cancel(Order)`. No accounts, no STP.
"""

from __future__ import annotations

import sys
from array import array
from pathlib import Path
from time import perf_counter_ns
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import harness
from pyorderbook import Book, ask, bid

SYMBOL = "X"
UNREACHABLE_BID = 10**12


def build(stream: list[harness.Command]) -> list[tuple[int, Any]]:
    inputs: list[tuple[int, Any]] = []
    orders = {}
    for kind, order_id, _account, is_bid, price, quantity in stream:
        make = bid if is_bid else ask
        if kind == harness.LIMIT:
            order = orders[order_id] = make(SYMBOL, price, quantity)
            inputs.append((0, order))
        elif kind == harness.MARKET:
            inputs.append((1, make(SYMBOL, UNREACHABLE_BID if is_bid else 0, quantity)))
        else:
            inputs.append((2, orders.pop(order_id)))
    return inputs


class Session:
    def __init__(self) -> None:
        self.book = Book()
        self.trade_count = self.traded = 0

    def timed(self, chunk: list[tuple[int, Any]], latencies: array, offset: int) -> None:  # type: ignore[type-arg]
        match, cancel, standing = self.book.match, self.book.cancel, self.book.order_map
        trades = traded = 0
        for index, (kind, order) in enumerate(chunk, offset):
            blotter = None
            if kind == 0:
                start = perf_counter_ns()
                blotter = match(order)
                latencies[index] = perf_counter_ns() - start
            elif kind == 1:
                start = perf_counter_ns()
                blotter = match(order)
                if order.quantity:
                    cancel(order)
                latencies[index] = perf_counter_ns() - start
            else:
                start = perf_counter_ns()
                if order.id in standing:
                    cancel(order)
                latencies[index] = perf_counter_ns() - start
            if blotter is not None:
                trades += len(blotter.trades)
                traded += sum(trade.fill_quantity for trade in blotter.trades)
        self.trade_count += trades
        self.traded += traded

    def untimed(self, chunk: list[tuple[int, Any]]) -> None:
        match, cancel, standing = self.book.match, self.book.cancel, self.book.order_map
        trades = traded = 0
        for kind, order in chunk:
            blotter = None
            if kind == 0:
                blotter = match(order)
            elif kind == 1:
                blotter = match(order)
                if order.quantity:
                    cancel(order)
            elif order.id in standing:
                cancel(order)
            if blotter is not None:
                trades += len(blotter.trades)
                traded += sum(trade.fill_quantity for trade in blotter.trades)
        self.trade_count += trades
        self.traded += traded

    def trades(self) -> dict[str, object]:
        return {"trades": self.trade_count, "traded_lots": self.traded}


if __name__ == "__main__":
    harness.run("pyorderbook", build, Session)
