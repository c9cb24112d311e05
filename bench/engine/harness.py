"""Shared by every engine adapter: read the stream file, time each command, summarise.

Standard library only: adapters run inside the peers' virtualenv, which has no Satchel code.

Stream file: one command per line, integers in ticks and lots.
    L,<order id>,<account>,<side 1=bid 0=ask>,<price>,<quantity>   limit GTC
    M,<order id>,<account>,<side>,<quantity>                       market by quantity
    C,<order id>,<account>                                         cancel a live order

Method, identical for every engine: the adapter turns the stream into the engine's own input
objects first (untimed), then times each engine call alone with `perf_counter_ns` (the engine's
work including the objects it allocates, its events or callbacks, and any call an adapter needs to
make the peer behave like the stream says, such as cancelling a market order's remainder).
"""

from __future__ import annotations

import json
import sys
import time
from array import array
from collections.abc import Iterator

LIMIT, MARKET, CANCEL = "L", "M", "C"
# How many commands run between two looks at the clock for the time budget.
BUDGET_STRIDE = 1024


def parse_args(argv: list[str]) -> tuple[str, int | None, float]:
    """`adapter.py STREAM [LIMIT] [BUDGET_SECONDS]`."""
    if len(argv) < 2:
        raise SystemExit("usage: adapter.py STREAM_FILE [MAX_COMMANDS] [BUDGET_SECONDS]")
    limit = int(argv[2]) if len(argv) > 2 and argv[2] != "-" else None
    budget = float(argv[3]) if len(argv) > 3 else 60.0
    return argv[1], limit, budget


def read_stream(path: str, limit: int | None) -> list[tuple[str, int, int, int, int, int]]:
    """Commands as (kind, order id, account, is_bid, price, quantity); unused fields are 0."""
    commands: list[tuple[str, int, int, int, int, int]] = []
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


def summarise(
    engine: str,
    latencies: array,
    done: int,
    total: int,
    extra: dict[str, object] | None = None,  # type: ignore[type-arg]
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
