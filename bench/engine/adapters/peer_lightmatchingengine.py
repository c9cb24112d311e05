"""lightmatchingengine (pure Python: dict of price -> list, `min`/`max` over the prices per match).

Faithful mapping: limit -> `add_order(price, qty, side)`; market -> `add_order(price 0, ...)`, its
documented market order, followed by `cancel_order` of any remainder, since it would otherwise
rest at price 0; cancel -> `cancel_order(id)`. It has no accounts and no STP.
"""

from __future__ import annotations

import sys
from pathlib import Path
from time import perf_counter, perf_counter_ns

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import harness
from lightmatchingengine.lightmatchingengine import LightMatchingEngine, Side

SYMBOL = "X"


def main() -> None:
    path, limit, budget = harness.parse_args(sys.argv)
    stream = harness.read_stream(path, limit)
    engine = LightMatchingEngine()
    add, cancel = engine.add_order, engine.cancel_order
    latencies = harness.new_latencies(len(stream))
    stop = harness.deadline(budget)
    their_id: dict[int, int] = {}
    done = trades = traded = 0
    for index, (kind, order_id, _account, is_bid, price, quantity) in enumerate(stream):
        side = Side.BUY if is_bid else Side.SELL
        fills: list = []  # type: ignore[type-arg]
        if kind == harness.LIMIT:
            start = perf_counter_ns()
            order, fills = add(SYMBOL, price, quantity, side)
            latencies[index] = perf_counter_ns() - start
            their_id[order_id] = order.order_id
        elif kind == harness.MARKET:
            start = perf_counter_ns()
            order, fills = add(SYMBOL, 0, quantity, side)
            if order.leaves_qty:
                cancel(order.order_id, SYMBOL)
            latencies[index] = perf_counter_ns() - start
        else:
            target = their_id.pop(order_id)
            start = perf_counter_ns()
            cancel(target, SYMBOL)
            latencies[index] = perf_counter_ns() - start
        for fill in fills:  # one aggressor record per price level, one passive record per maker
            if fill.order_id != order.order_id:
                trades += 1
                traded += fill.trade_qty
        done = index + 1
        if not done % harness.BUDGET_STRIDE and perf_counter() > stop:
            break
    extra = {"trades": trades, "traded_lots": traded}
    harness.emit(harness.summarise("lightmatchingengine", latencies, done, len(stream), extra))


if __name__ == "__main__":
    main()
