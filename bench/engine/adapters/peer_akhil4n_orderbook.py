"""akhil4n-orderbook (pure Python: sortedcontainers SortedDict of levels, OrderedDict FIFO).

Faithful mapping: limit -> `add_limit_order(Order)`, market -> `add_market_order(MarketOrder)` (it
drops an unfilled remainder itself), cancel -> `cancel_order(id)`. It has no accounts and no STP.
"""

from __future__ import annotations

import sys
from pathlib import Path
from time import perf_counter, perf_counter_ns

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import harness
from orderbook import MarketOrder, Order, OrderBook, OrderSide


def main() -> None:
    path, limit, budget = harness.parse_args(sys.argv)
    stream = harness.read_stream(path, limit)
    inputs = []
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
    book = OrderBook()
    add_limit, add_market, cancel = book.add_limit_order, book.add_market_order, book.cancel_order
    latencies = harness.new_latencies(len(inputs))
    stop = harness.deadline(budget)
    done = 0
    for index, (kind, item) in enumerate(inputs):
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
        done = index + 1
        if not done % harness.BUDGET_STRIDE and perf_counter() > stop:
            break
    traded = sum(trade.quantity_filled for trade in book.trade_log)
    extra = {"trades": len(book.trade_log), "traded_lots": traded}
    harness.emit(harness.summarise("akhil4n-orderbook", latencies, done, len(inputs), extra))


if __name__ == "__main__":
    main()
