"""liquibook (C++ via its SWIG Python binding, PyPI `liquibook`).

Faithful mapping: `DepthOrderBook` (the variant that keeps aggregated depth, as Satchel does);
limit -> `add(SimpleOrder(is_buy, price, qty))`; cancel -> `cancel(order)`; market -> price 0 with
the immediate-or-cancel condition, then `cancel(order)` when it did not fill completely: liquibook
2.0.1 leaves an unfilled market remainder on the book even with that condition (it later trades at
the next limit order's price), which the stream's market orders must never do. Without callbacks
the adapter cannot see fills, so it cancels after every market order.

Two variants: `liquibook` registers a Python `OrderListener` that records every fill, as code
that needs the trades from Python must (the C++ book calls back into Python per accept, fill and
cancel); `liquibook-nocallbacks` registers nothing: the C++ floor seen through the binding, with
no way to learn what traded.
"""

from __future__ import annotations

import sys
from array import array
from pathlib import Path
from time import perf_counter_ns

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import harness
import liquibook


class FillRecorder(liquibook.OrderListener):  # type: ignore[misc]
    def __init__(self) -> None:
        liquibook.OrderListener.__init__(self)
        self.fills: list[tuple[int, int, int, int]] = []
        self.inbound_filled = 0

    def on_accept(self, order: object) -> None:
        pass

    def on_reject(self, order: object, reason: str) -> None:
        pass

    def on_fill(self, order: object, matched_order: object, fill_qty: int, fill_cost: int) -> None:
        # `order` is the inbound (taker) order, `matched_order` the resting one.
        self.fills.append((order.order_id_, matched_order.order_id_, fill_qty, fill_cost))  # type: ignore[attr-defined]
        self.inbound_filled += fill_qty

    def on_cancel(self, order: object) -> None:
        pass

    def on_cancel_reject(self, order: object, reason: str) -> None:
        pass

    def on_replace(self, order: object, size_delta: int, new_price: int) -> None:
        pass

    def on_replace_reject(self, order: object, reason: str) -> None:
        pass


def build(stream: list[harness.Command]) -> list[tuple[int, object]]:
    inputs: list[tuple[int, object]] = []
    orders = {}
    for kind, order_id, _account, is_bid, price, quantity in stream:
        if kind == harness.LIMIT:
            order = orders[order_id] = liquibook.SimpleOrder(bool(is_bid), price, quantity)
            inputs.append((0, order))
        elif kind == harness.MARKET:
            order = liquibook.SimpleOrder(bool(is_bid), 0, quantity, 0, liquibook.oc_immediate_or_cancel)
            inputs.append((2, order))
        else:
            inputs.append((1, orders.pop(order_id)))
    return inputs


class Session:
    def __init__(self, callbacks: bool) -> None:
        self.book = liquibook.DepthOrderBook()
        self.book.set_symbol("X")
        self.callbacks = callbacks
        self.recorder = FillRecorder()
        if callbacks:
            self.book.set_order_listener(self.recorder)

    def timed(self, chunk: list[tuple[int, object]], latencies: array, offset: int) -> None:  # type: ignore[type-arg]
        add, cancel, recorder, callbacks = self.book.add, self.book.cancel, self.recorder, self.callbacks
        for index, (kind, order) in enumerate(chunk, offset):
            if kind == 0:
                start = perf_counter_ns()
                add(order)
                latencies[index] = perf_counter_ns() - start
            elif kind == 2:
                recorder.inbound_filled = 0
                start = perf_counter_ns()
                add(order)
                if not callbacks or recorder.inbound_filled < order.order_qty():  # type: ignore[attr-defined]
                    cancel(order)
                latencies[index] = perf_counter_ns() - start
            else:
                start = perf_counter_ns()
                cancel(order)
                latencies[index] = perf_counter_ns() - start

    def untimed(self, chunk: list[tuple[int, object]]) -> None:
        add, cancel, recorder, callbacks = self.book.add, self.book.cancel, self.recorder, self.callbacks
        for kind, order in chunk:
            if kind == 0:
                add(order)
            elif kind == 2:
                recorder.inbound_filled = 0
                add(order)
                if not callbacks or recorder.inbound_filled < order.order_qty():  # type: ignore[attr-defined]
                    cancel(order)
            else:
                cancel(order)

    def trades(self) -> dict[str, object]:
        if not self.callbacks:
            return {}
        fills = self.recorder.fills
        return {"trades": len(fills), "traded_lots": sum(fill[2] for fill in fills)}


def main() -> None:
    callbacks = "--no-callbacks" not in sys.argv
    name = "liquibook" if callbacks else "liquibook-nocallbacks"
    harness.run(name, build, lambda: Session(callbacks))


if __name__ == "__main__":
    main()
