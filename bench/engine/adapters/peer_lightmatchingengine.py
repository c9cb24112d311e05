"""lightmatchingengine (pure Python: dict of price -> list, `min`/`max` over the prices per match).

Faithful mapping: limit -> `add_order(price, qty, side)`; market -> `add_order(price 0, ...)`, its
documented market order, followed by `cancel_order` of any remainder, since it would otherwise
rest at price 0; cancel -> `cancel_order(id)`. It has no accounts and no STP. It numbers orders
itself, so the loops map the stream's ids to its own as they go (untimed in the timed pass).
"""

from __future__ import annotations

import sys
from array import array
from pathlib import Path
from time import perf_counter_ns

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import harness
from lightmatchingengine.lightmatchingengine import LightMatchingEngine, Side

SYMBOL = "X"

Input = tuple[str, int, object, int, int]


def build(stream: list[harness.Command]) -> list[Input]:
    return [
        (kind, order_id, Side.BUY if is_bid else Side.SELL, price, quantity)
        for kind, order_id, _account, is_bid, price, quantity in stream
    ]


class Session:
    def __init__(self) -> None:
        self.engine = LightMatchingEngine()
        self.their_id: dict[int, int] = {}
        self.trade_count = self.traded = 0

    def timed(self, chunk: list[Input], latencies: array, offset: int) -> None:  # type: ignore[type-arg]
        add, cancel, their_id = self.engine.add_order, self.engine.cancel_order, self.their_id
        trades = traded = 0
        for index, (kind, order_id, side, price, quantity) in enumerate(chunk, offset):
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
        self.trade_count += trades
        self.traded += traded

    def untimed(self, chunk: list[Input]) -> None:
        add, cancel, their_id = self.engine.add_order, self.engine.cancel_order, self.their_id
        trades = traded = 0
        for kind, order_id, side, price, quantity in chunk:
            fills: list = []  # type: ignore[type-arg]
            if kind == harness.LIMIT:
                order, fills = add(SYMBOL, price, quantity, side)
                their_id[order_id] = order.order_id
            elif kind == harness.MARKET:
                order, fills = add(SYMBOL, 0, quantity, side)
                if order.leaves_qty:
                    cancel(order.order_id, SYMBOL)
            else:
                cancel(their_id.pop(order_id), SYMBOL)
            for fill in fills:
                if fill.order_id != order.order_id:
                    trades += 1
                    traded += fill.trade_qty
        self.trade_count += trades
        self.traded += traded

    def trades(self) -> dict[str, object]:
        return {"trades": self.trade_count, "traded_lots": self.traded}


if __name__ == "__main__":
    harness.run("lightmatchingengine", build, Session)
