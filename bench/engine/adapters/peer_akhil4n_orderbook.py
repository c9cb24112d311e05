"""akhil4n-orderbook (pure Python: sortedcontainers SortedDict of levels, OrderedDict FIFO).

Faithful mapping: limit -> `add_limit_order(Order)`, market -> `add_market_order(MarketOrder)` (it
drops an unfilled remainder itself), cancel -> `cancel_order(id)`. It has no accounts and no STP.
"""

from __future__ import annotations

import sys
from array import array
from pathlib import Path
from time import perf_counter_ns

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import harness
from orderbook import MarketOrder, Order, OrderBook, OrderSide


def build(stream: list[harness.Command]) -> list[tuple[int, object]]:
    inputs: list[tuple[int, object]] = []
    their_id: dict[int, str] = {}
    for kind, order_id, _account, is_bid, price, quantity in stream:
        side = OrderSide.BID if is_bid else OrderSide.ASK
        if kind == harness.LIMIT:
            order = Order(side, price, quantity)
            their_id[order_id] = order.order_id
            inputs.append((0, order))
        elif kind == harness.MARKET:
            inputs.append((1, MarketOrder(side, quantity)))
        else:
            inputs.append((2, their_id[order_id]))
    return inputs


class Session:
    def __init__(self) -> None:
        self.book = OrderBook()

    def timed(self, chunk: list[tuple[int, object]], latencies: array, offset: int) -> None:  # type: ignore[type-arg]
        book = self.book
        add_limit, add_market, cancel = book.add_limit_order, book.add_market_order, book.cancel_order
        for index, (kind, item) in enumerate(chunk, offset):
            if kind == 0:
                start = perf_counter_ns()
                add_limit(item)
                latencies[index] = perf_counter_ns() - start
            elif kind == 1:
                start = perf_counter_ns()
                add_market(item)
                latencies[index] = perf_counter_ns() - start
            else:
                start = perf_counter_ns()
                cancel(item)
                latencies[index] = perf_counter_ns() - start

    def untimed(self, chunk: list[tuple[int, object]]) -> None:
        book = self.book
        add_limit, add_market, cancel = book.add_limit_order, book.add_market_order, book.cancel_order
        for kind, item in chunk:
            if kind == 0:
                add_limit(item)
            elif kind == 1:
                add_market(item)
            else:
                cancel(item)

    def trades(self) -> dict[str, object]:
        log = self.book.trade_log
        return {"trades": len(log), "traded_lots": sum(trade.quantity_filled for trade in log)}


if __name__ == "__main__":
    harness.run("akhil4n-orderbook", build, Session)
