"""Satchel's engine on the standard stream (run with the project's venv, repo root on sys.path).

Compiled when `./satchel build-engine` has built the current sources, pure with SATCHEL_ENGINE=pure;
the summary says which ran.
"""

from __future__ import annotations

import sys
from array import array
from pathlib import Path
from time import perf_counter_ns

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[3])]

import harness  # noqa: E402 - found through the path set above

import exchange.engine  # noqa: E402
from exchange.engine import engine as engine_module  # noqa: E402
from exchange.engine.commands import cancel_order, limit_order, market_order  # noqa: E402
from exchange.engine.engine import MatchingEngine  # noqa: E402
from exchange.engine.enums import ALLOW, ASK, BID  # noqa: E402
from exchange.engine.events import Fill  # noqa: E402


def build(stream: list[harness.Command]) -> list[object]:
    commands: list[object] = []
    for kind, order_id, account, is_bid, price, quantity in stream:
        side = BID if is_bid else ASK
        if kind == harness.LIMIT:
            commands.append(
                limit_order(order_id, account, side, price, quantity, self_trade_prevention=ALLOW)
            )
        elif kind == harness.MARKET:
            commands.append(market_order(order_id, account, side, quantity, self_trade_prevention=ALLOW))
        else:
            commands.append(cancel_order(order_id, account))
    return commands


class Session:
    """`apply` per command. The timed pass counts the fills from the events after each command's
    clock read, as a caller learns its trades; the untimed pass makes only the engine calls, so
    both measure the same work (the engine's, events included, as a peer's trade log is its own):
    its check is the engine's trade and depth-update counters."""

    def __init__(self) -> None:
        self.engine = MatchingEngine()
        self.traded: int | None = None

    def timed(self, chunk: list[object], latencies: array, offset: int) -> None:  # type: ignore[type-arg]
        apply, traded = self.engine.apply, 0
        for index, command in enumerate(chunk, offset):
            start = perf_counter_ns()
            events = apply(command)  # type: ignore[arg-type]
            latencies[index] = perf_counter_ns() - start
            for event in events:
                if type(event) is Fill:
                    traded += event.lots
        self.traded = (self.traded or 0) + traded

    def untimed(self, chunk: list[object]) -> None:
        apply = self.engine.apply
        for command in chunk:
            apply(command)  # type: ignore[arg-type]

    def trades(self) -> dict[str, object]:
        counters: dict[str, object] = {"trades": self.engine.trade_id, "update_id": self.engine.update_id}
        if self.traded is not None:
            counters["traded_lots"] = self.traded
        return counters


def main() -> None:
    harness.run(
        "satchel",
        build,
        Session,
        # What actually ran: SATCHEL_ENGINE=pure, or a missing build, gives the pure engine.
        {
            "implementation": exchange.engine.IMPLEMENTATION,
            "engine_module": Path(engine_module.__file__ or "").name,
        },
    )


if __name__ == "__main__":
    main()
