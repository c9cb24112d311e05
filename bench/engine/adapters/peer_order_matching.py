"""order-matching (pure Python: dict of price -> sorted Orders list, linear scans by order id).

Faithful mapping: each order is `place(Orders([order]))` then `match(timestamp)`, the library's
documented flow, with timestamps one microsecond apart; market orders are its `MarketOrder`, whose
remainder would rest at an infinite (or zero) price, so it is cancelled; cancel ->
`cancel_order(id)`. Its loguru DEBUG logging is switched off, as anyone timing it would.
"""

from __future__ import annotations

import sys
from array import array
from datetime import datetime, timedelta
from pathlib import Path
from time import perf_counter_ns
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import harness
from loguru import logger
from order_matching.enums import Side
from order_matching.matching_engine import MatchingEngine
from order_matching.order import LimitOrder, MarketOrder
from order_matching.orders import Orders

START = datetime(2025, 1, 1)  # noqa: DTZ001 - the library compares naive timestamps


def build(stream: list[harness.Command]) -> list[tuple[int, object, object, datetime]]:
    inputs: list[tuple[int, object, object, datetime]] = []
    for index, (kind, order_id, account, is_bid, price, quantity) in enumerate(stream):
        timestamp = START + timedelta(microseconds=index)
        side = Side.BUY if is_bid else Side.SELL
        fields = {"side": side, "size": quantity, "timestamp": timestamp, "order_id": str(order_id)}
        if kind == harness.LIMIT:
            order = LimitOrder(price=price, trader_id=str(account), price_number_of_digits=0, **fields)
            inputs.append((0, order, Orders([order]), timestamp))
        elif kind == harness.MARKET:
            order = MarketOrder(trader_id=str(account), **fields)
            inputs.append((1, order, Orders([order]), timestamp))
        else:
            inputs.append((2, str(order_id), None, timestamp))
    return inputs


class Session:
    def __init__(self) -> None:
        self.engine = MatchingEngine(seed=1)
        self.trade_count = self.traded = 0

    def timed(self, chunk: list[tuple[int, Any, Any, datetime]], latencies: array, offset: int) -> None:  # type: ignore[type-arg]
        place, match, cancel = self.engine.place, self.engine.match, self.engine.cancel_order
        trades = traded = 0
        for index, (kind, order, batch, timestamp) in enumerate(chunk, offset):
            executed = None
            if kind == 0:
                start = perf_counter_ns()
                place(batch)
                executed = match(timestamp)
                latencies[index] = perf_counter_ns() - start
            elif kind == 1:
                start = perf_counter_ns()
                place(batch)
                executed = match(timestamp)
                if order.size > 0:
                    cancel(order.order_id)
                latencies[index] = perf_counter_ns() - start
            else:
                start = perf_counter_ns()
                try:  # noqa: SIM105 - contextlib.suppress would add its own cost to the timed call
                    cancel(order)
                except ValueError:  # already filled
                    pass
                latencies[index] = perf_counter_ns() - start
            if executed is not None:
                trades += len(executed.trades)
                traded += sum(trade.size for trade in executed.trades)
        self.trade_count += trades
        self.traded += traded

    def untimed(self, chunk: list[tuple[int, Any, Any, datetime]]) -> None:
        place, match, cancel = self.engine.place, self.engine.match, self.engine.cancel_order
        trades = traded = 0
        for kind, order, batch, timestamp in chunk:
            executed = None
            if kind == 0:
                place(batch)
                executed = match(timestamp)
            elif kind == 1:
                place(batch)
                executed = match(timestamp)
                if order.size > 0:
                    cancel(order.order_id)
            else:
                try:  # noqa: SIM105 - as in the timed loop
                    cancel(order)
                except ValueError:
                    pass
            if executed is not None:
                trades += len(executed.trades)
                traded += sum(trade.size for trade in executed.trades)
        self.trade_count += trades
        self.traded += traded

    def trades(self) -> dict[str, object]:
        return {"trades": self.trade_count, "traded_lots": int(self.traded)}


if __name__ == "__main__":
    logger.remove()
    # Each command takes ~0.2 ms here: a look at the budget every 64 commands, as before.
    harness.run("order-matching", build, Session, stride=64)
