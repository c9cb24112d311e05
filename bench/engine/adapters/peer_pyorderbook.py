"""pyorderbook (pure Python: heap of price levels, dict FIFO per level, Decimal prices).

Faithful mapping: limit -> `match(Order)`; it has no market orders, so a market order is a limit
at an unreachable price (10**12 for a bid, 0 for an ask) whose remainder is then cancelled, as the
stream's market orders never rest; cancel -> `cancel(Order)`. No accounts, no STP.
"""

from __future__ import annotations

import sys
from pathlib import Path
from time import perf_counter, perf_counter_ns

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import harness
from pyorderbook import Book, ask, bid

SYMBOL = "X"
UNREACHABLE_BID = 10**12


def main() -> None:
    path, limit, budget = harness.parse_args(sys.argv)
    stream = harness.read_stream(path, limit)
    inputs = []
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
    book = Book()
    match, cancel, standing = book.match, book.cancel, book.order_map
    latencies = harness.new_latencies(len(inputs))
    stop = harness.deadline(budget)
    done = trades = traded = 0
    for index, (kind, order) in enumerate(inputs):
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
        done = index + 1
        if not done % harness.BUDGET_STRIDE and perf_counter() > stop:
            break
    extra = {"trades": trades, "traded_lots": traded}
    harness.emit(harness.summarise("pyorderbook", latencies, done, len(inputs), extra))


if __name__ == "__main__":
    main()
