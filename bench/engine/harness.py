"""Shared by every engine adapter: read the stream file, run the two passes, summarise.

Standard library only: adapters run inside the peers' virtualenv, which has no Satchel code.

Stream file: one command per line, integers in ticks and lots.
    L,<order id>,<account>,<side 1=bid 0=ask>,<price>,<quantity>   limit GTC
    M,<order id>,<account>,<side>,<quantity>                       market by quantity
    C,<order id>,<account>                                         cancel a live order

Method, identical for every engine. An adapter supplies `build` (the stream as the engine's own
input objects) and a `Session` (one fresh engine); `run` makes two passes over the same stream,
each with freshly built inputs (engines mutate them) on a fresh engine, building untimed:

1. Timed: each engine call alone between two `perf_counter_ns` reads (the engine's work including
   the objects it allocates, its events or callbacks, and any call an adapter needs to make the
   peer behave like the stream says, such as cancelling a market order's remainder). Gives the
   latency percentiles and `ops_per_s` = commands / summed command time. Each command's figure
   also holds the clock reads themselves (~0.14 µs here), the same for every engine.
2. Untimed: what the timed pass times, in a plain loop, one clock read before and one after:
   `throughput_ops_per_s` = commands / loop wall time, with no per-command instrumentation. It
   runs the prefix the timed pass reached, and must trade exactly what the timed pass traded.

Between the clock reads both loops of a `Session` do the same work (dispatch, and any call that
makes the peer follow the stream), written out in both, since any shared helper called per command
would add its own call to the figures. What the timed pass does after a command's second clock
read (Satchel's adapter reading the fills off the returned events) is not in the untimed loop
either: a peer that logs its trades inside its engine call is charged for the log, and Satchel
for building the events, in both passes alike. Both passes look at the clock for the time budget
once per chunk of `stride` commands, between chunks, which also keeps the inner loops plain.
"""

from __future__ import annotations

import json
import sys
import time
from array import array
from collections.abc import Callable, Iterator
from typing import Any, Protocol

LIMIT, MARKET, CANCEL = "L", "M", "C"
# How many commands run between two looks at the clock for the time budget.
BUDGET_STRIDE = 1024
# The untimed pass runs the timed pass's prefix; its deadline is only a safety net, with room for
# the load moving between the passes, so that a slow peer's two passes cover the same commands.
UNTIMED_BUDGET_FACTOR = 1.5

Command = tuple[str, int, int, int, int, int]


class Session(Protocol):
    """One fresh engine. `timed` and `untimed` must do the same work per command."""

    def timed(self, chunk: list[Any], latencies: array, offset: int) -> None:  # type: ignore[type-arg]
        """Run the chunk, storing each command's nanoseconds at `latencies[offset + i]`."""

    def untimed(self, chunk: list[Any]) -> None:
        """Run the chunk with no clock reads."""

    def trades(self) -> dict[str, object]:
        """`trades` and `traded_lots` so far (empty when the engine cannot tell)."""


def parse_args(argv: list[str]) -> tuple[str, int | None, float]:
    """`adapter.py STREAM [LIMIT] [BUDGET_SECONDS]`."""
    if len(argv) < 2:
        raise SystemExit("usage: adapter.py STREAM_FILE [MAX_COMMANDS] [BUDGET_SECONDS]")
    limit = int(argv[2]) if len(argv) > 2 and argv[2] != "-" else None
    budget = float(argv[3]) if len(argv) > 3 else 60.0
    return argv[1], limit, budget


def read_stream(path: str, limit: int | None) -> list[Command]:
    """Commands as (kind, order id, account, is_bid, price, quantity); unused fields are 0."""
    commands: list[Command] = []
    with open(path, encoding="ascii") as stream:
        for line in _lines(stream, limit):
            fields = line.rstrip("\n").split(",")
            kind = fields[0]
            if kind == LIMIT:
                commands.append(
                    (LIMIT, int(fields[1]), int(fields[2]), int(fields[3]), int(fields[4]), int(fields[5]))
                )
            elif kind == MARKET:
                commands.append((MARKET, int(fields[1]), int(fields[2]), int(fields[3]), 0, int(fields[4])))
            elif kind == CANCEL:
                commands.append((CANCEL, int(fields[1]), int(fields[2]), 0, 0, 0))
            else:
                raise ValueError(f"unknown command {line!r}")
    return commands


def _lines(stream: object, limit: int | None) -> Iterator[str]:
    for number, line in enumerate(stream):  # type: ignore[call-overload]
        if limit is not None and number >= limit:
            return
        yield line


def new_latencies(count: int) -> array:  # type: ignore[type-arg]
    return array("q", bytes(8 * count))


def deadline(budget_seconds: float) -> float:
    return time.perf_counter() + budget_seconds


def chunks(inputs: list[Any], stride: int) -> list[list[Any]]:
    """Built untimed, so that the passes' inner loops iterate plain lists."""
    return [inputs[start : start + stride] for start in range(0, len(inputs), stride)]


def run(
    engine: str,
    build: Callable[[list[Command]], list[Any]],
    session: Callable[[], Session],
    extra: dict[str, object] | None = None,
    stride: int = BUDGET_STRIDE,
) -> dict[str, object]:
    """Both passes over the stream named on the command line; prints and returns the summary."""
    path, limit, budget = parse_args(sys.argv)
    stream = read_stream(path, limit)
    summary = measure(engine, stream, budget, build, session, stride)
    summary.update(extra or {})
    emit(summary)
    return summary


def measure(
    engine: str,
    stream: list[Command],
    budget: float,
    build: Callable[[list[Command]], list[Any]],
    session: Callable[[], Session],
    stride: int = BUDGET_STRIDE,
) -> dict[str, object]:
    """Timed pass, then the untimed pass on the prefix it reached; the two must trade alike."""
    pieces = chunks(build(stream), stride)
    latencies = new_latencies(len(stream))
    timed = session()
    stop = deadline(budget)
    done = 0
    for piece in pieces:
        timed.timed(piece, latencies, done)
        done += len(piece)
        if time.perf_counter() > stop:
            break
    timed_trades = timed.trades()
    del pieces, timed  # freed before the second pass, which must start from the same state

    pieces = chunks(build(stream[:done]), stride)
    untimed = session()
    stop = deadline(budget * UNTIMED_BUDGET_FACTOR)
    ran = 0
    started = time.perf_counter()
    for piece in pieces:
        untimed.untimed(piece)
        ran += len(piece)
        if time.perf_counter() > stop:
            break
    elapsed = time.perf_counter() - started
    untimed_trades = untimed.trades()

    summary = summarise(engine, latencies, done, len(stream), timed_trades)
    summary.update(
        {
            "throughput_ops_per_s": round(ran / elapsed) if elapsed > 0 else 0,
            "throughput_commands": ran,
            "throughput_seconds": round(elapsed, 3),
            # None: nothing to compare (no trades seen, or the untimed pass stopped short).
            # An adapter may report less of the untimed pass (what it did not count there).
            "throughput_same_trades": all(
                timed_trades.get(key) == value for key, value in untimed_trades.items()
            )
            if timed_trades and untimed_trades and ran == done
            else None,
        }
    )
    return summary


def summarise(
    engine: str,
    latencies: array,  # type: ignore[type-arg]
    done: int,
    total: int,
    extra: dict[str, object] | None = None,
) -> dict[str, object]:
    """Throughput is commands / summed per-command time; percentiles are per command, in µs."""
    sample = sorted(latencies[:done])
    spent_ns = sum(sample)

    def percentile(fraction: float) -> float:
        return round(sample[min(done - 1, int(fraction * done))] / 1000, 3)

    summary: dict[str, object] = {
        "engine": engine,
        "commands": done,
        "of": total,
        "complete": done == total,
        "ops_per_s": round(done / (spent_ns / 1e9)) if spent_ns else 0,
        "mean_us": round(spent_ns / done / 1000, 3) if done else 0,
        "p50_us": percentile(0.50),
        "p90_us": percentile(0.90),
        "p99_us": percentile(0.99),
        "max_us": round(sample[-1] / 1000, 3) if done else 0,
    }
    summary.update(extra or {})
    return summary


def emit(summary: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(summary) + "\n")
    sys.stdout.flush()
