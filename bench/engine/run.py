"""Matching-engine benchmark: Satchel's engine against PyPI peers on one seeded command stream.

    .venv/bin/python bench/engine/run.py [--commands N] [--seed S] [--rounds R] [--budget SECONDS]

1. Writes the standard stream (see `stream.py`) to var/bench-peers/.
2. Creates var/bench-peers/venv with `python -m venv` and pip-installs the peers there (pinned);
   a peer that does not install is reported as such and skipped.
3. Compiles Satchel's engine with mypyc if the current sources have no build yet
   (`config/engine_build.py`, as `./satchel build-engine` does).
4. Runs every engine in its own fresh process on the same stream file: Satchel twice with this
   interpreter, compiled and pure (SATCHEL_ENGINE=pure), peers with the peers' venv, each through a
   small adapter in `adapters/` (the peers' code is imported from their installed packages, never
   copied). Each adapter makes two passes (see `harness.py`), each on a fresh engine with input
   objects built untimed: one times every command alone (latency percentiles, and ops/s =
   commands / summed command time), the other runs the same work in a plain loop with one clock
   read before and one after (throughput = commands / loop wall time).
5. Prints a table and, last, one JSON line with every figure; "compiled x" and "pure x" are how
   many times faster than each engine the two Satchel builds are, on each of the two measures.

A peer slower than the per-run time budget runs on the first part of the stream only; its row says
how many commands it got through, and its trade count is checked against Satchel's on that prefix.
Every engine runs `--rounds` times (default 3), in a rotating order, and its best round counts, for
each measure separately: other load on the machine only ever makes a run slower.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VAR = ROOT / "var" / "bench-peers"
VENV = VAR / "venv"
VENV_PYTHON = VENV / "bin" / "python"
sys.path[:0] = [str(HERE), str(ROOT)]

from stream import generate  # noqa: E402 - needs the paths above

from config.engine_build import build as build_engine  # noqa: E402

COMPILED, PURE = "satchel (compiled)", "satchel (pure)"
THROUGHPUT = "throughput_ops_per_s"
THROUGHPUT_KEYS = (THROUGHPUT, "throughput_commands", "throughput_seconds", "throughput_same_trades")
# (measure, label in the ratio keys): per-command ops/s as before, and the untimed throughput.
MEASURES = (("ops_per_s", ""), (THROUGHPUT, "throughput_"))

# name, pip requirement, import check, adapter, adapter flags, kind, how the stream is adapted
PEERS = [
    (
        "lightmatchingengine",
        "lightmatchingengine==2019.1.4",
        "import lightmatchingengine.lightmatchingengine",
        "peer_lightmatchingengine.py",
        [],
        "pure Python",
        "market = add_order(price 0) + cancel of any remainder (it would rest at 0)",
    ),
    (
        "order-matching",
        "order-matching[polars]==0.12.0",
        "import order_matching.matching_engine",
        "peer_order_matching.py",
        [],
        "pure Python",
        "place()+match() per order; market remainder cancelled (it would rest at inf/0); loguru off",
    ),
    (
        "pyorderbook",
        "pyorderbook==0.4.9",
        "import pyorderbook",
        "peer_pyorderbook.py",
        [],
        "pure Python",
        "no market orders: limit at an unreachable price, remainder cancelled",
    ),
    (
        "akhil4n-orderbook",
        "akhil4n-orderbook==0.1.1",
        "from orderbook import OrderBook, MarketOrder",
        "peer_akhil4n_orderbook.py",
        [],
        "pure Python",
        "direct mapping (add_limit_order / add_market_order / cancel_order)",
    ),
    (
        "liquibook",
        "liquibook==2.0.1",
        "import liquibook",
        "peer_liquibook.py",
        [],
        "C++ via SWIG",
        "Python OrderListener records fills; market = price 0 + IOC, remainder cancelled (IOC leaves it)",
    ),
    (
        "liquibook-nocallbacks",
        "liquibook==2.0.1",
        "import liquibook",
        "peer_liquibook.py",
        ["--no-callbacks"],
        "C++ via SWIG",
        "no listener: nothing comes back to Python (C++ floor); every market order is then cancelled",
    ),
]
NOT_TRIED = {
    "OrderBook (dyn4mik3)": "its top-level module `orderbook` clashes with akhil4n-orderbook, and it needs "
    "the unmaintained C extension bintrees; akhil4n-orderbook is the faster pure-Python book of that design",
}


def ensure_peers(names: set[str]) -> dict[str, str]:
    """Install the peers into the separate venv; return {peer: error} for those that failed."""
    failures: dict[str, str] = {}
    if not VENV_PYTHON.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    for name, requirement, check, *_ in PEERS:
        if name not in names:
            continue
        if subprocess.run([str(VENV_PYTHON), "-c", check], capture_output=True).returncode == 0:
            continue
        print(f"installing {requirement} into {VENV} ...", flush=True)
        install = subprocess.run(
            [str(VENV_PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement],
            capture_output=True,
            text=True,
            timeout=900,
        )
        verify = subprocess.run([str(VENV_PYTHON), "-c", check], capture_output=True, text=True)
        if install.returncode or verify.returncode:
            lines = (install.stderr or verify.stderr or "failed").strip().splitlines()
            failures[name] = lines[-1] if lines else "failed"
    return failures


def _shown(path: Path) -> str:
    """The interpreter as typed from the repository root (`.venv/bin/python`), else its full path."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def run_adapter(
    python: Path | str,
    adapter: str,
    flags: list[str],
    stream: Path,
    count: int,
    budget: float,
    env: dict[str, str] | None = None,
) -> dict:  # type: ignore[type-arg]
    command = [str(python), str(HERE / "adapters" / adapter), str(stream), str(count), str(budget), *flags]
    environment = {key: value for key, value in os.environ.items() if key != "SATCHEL_ENGINE"}
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=budget * 3 + 600,
        cwd=ROOT,
        env={**environment, **(env or {})},
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commands", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3, help="run each engine R times, keep the best")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds of engine time per run")
    parser.add_argument("--peers", default=",".join(p[0] for p in PEERS), help="comma-separated subset")
    args = parser.parse_args()
    wanted = {name.strip() for name in args.peers.split(",") if name.strip()}

    VAR.mkdir(parents=True, exist_ok=True)
    stream_path = VAR / f"stream-{args.commands}-{args.seed}.csv"
    started = time.perf_counter()
    facts = generate(stream_path, args.commands, args.seed)
    print(f"stream: {stream_path} ({time.perf_counter() - started:.1f}s) {facts}", flush=True)
    failures = ensure_peers(wanted)
    if not build_engine():
        failures[COMPILED] = "mypyc build failed (see the line above); the pure engine runs alone"

    note = "limit GTC / market IOC by quantity, STP Allow"
    pure_env = {"SATCHEL_ENGINE": "pure"}
    engines: list[tuple[str, Path | str, str, list[str], str, str, dict[str, str]]] = [
        (COMPILED, sys.executable, "satchel.py", [], "mypyc", note, {}),
        (PURE, sys.executable, "satchel.py", [], "pure Python", note, pure_env),
    ]
    engines = [engine for engine in engines if engine[0] not in failures]
    engines += [
        (name, VENV_PYTHON, adapter, flags, kind, note, {})
        for name, _, _, adapter, flags, kind, note in PEERS
        if name in wanted and name not in failures
    ]
    best: dict[str, dict] = {}  # type: ignore[type-arg]
    best_throughput: dict[str, dict] = {}  # type: ignore[type-arg]
    rounds: list[dict[str, object]] = []
    for round_number in range(args.rounds):
        # Rotate the order each round so that a burst of other load does not always hit one engine.
        shift = round_number % len(engines)
        for name, python, adapter, flags, kind, note, env in engines[shift:] + engines[:shift]:
            result = run_adapter(python, adapter, flags, stream_path, args.commands, args.budget, env)
            if name == COMPILED and result.get("implementation", "compiled") != "compiled":
                result = {"error": "the compiled engine did not load (stale or missing build)"}
            result.update({"engine": name, "kind": kind, "adaptation": note, "round": round_number + 1})
            rounds.append(result)
            shown = result.get("ops_per_s", result.get("error"))
            print(f"  round {round_number + 1}: {name:24s} {shown} {result.get(THROUGHPUT, '')}", flush=True)
            if "error" not in result and result["ops_per_s"] > best.get(name, {}).get("ops_per_s", -1):
                best[name] = result
            if "error" not in result and result[THROUGHPUT] > best_throughput.get(name, {}).get(
                THROUGHPUT, -1
            ):
                best_throughput[name] = result
    # A row shows its best per-command round; its throughput figures are from its best untimed round.
    for name, result in best.items():
        fastest = best_throughput[name]
        result.update({key: fastest[key] for key in THROUGHPUT_KEYS})
        result["throughput_round"] = fastest["round"]

    # Faithfulness: every engine (the compiled Satchel included) must trade exactly what the pure
    # Satchel trades on the commands it processed.
    for name, result in best.items():
        if name == PURE or "trades" not in result:
            continue
        reference = best[PURE]
        if result["commands"] != reference["commands"]:
            reference = run_adapter(
                sys.executable, "satchel.py", [], stream_path, result["commands"], 600.0, pure_env
            )
        result["same_trades_as_satchel"] = (result["trades"], result["traded_lots"]) == (
            reference["trades"],
            reference["traded_lots"],
        )

    for measure, prefix in MEASURES:
        for ours in (COMPILED, PURE):
            if ours in best:
                for result in best.values():
                    key = f"{'compiled' if ours == COMPILED else 'pure'}_{prefix}speedup"
                    result[key] = round(best[ours][measure] / result[measure], 2)
    python_peers = [r for n, r in best.items() if n not in (COMPILED, PURE) and r["kind"] == "pure Python"]
    liquibook = best.get("liquibook")

    def target(peer: dict | None, key: str, goal: float) -> dict[str, object] | None:  # type: ignore[type-arg]
        if peer is None or key not in peer:
            return None
        return {"peer": peer["engine"], "speedup": peer[key], "goal": goal, "met": peer[key] >= goal}

    # The fastest pure-Python peer is found on each measure separately.
    targets = {
        f"{label}_{prefix}vs_{name}": target(peer, f"{label}_{prefix}speedup", goal)
        for measure, prefix in MEASURES
        for label in ("compiled", "pure")
        for name, peer, goal in (
            ("fastest_pure_python_peer", max(python_peers, key=lambda r: r[measure], default=None), 5.0),
            ("liquibook_from_python", liquibook, 1.0),
        )
    }

    header = (
        f"{'engine':24s} {'kind':13s} {'commands':>9s} {'ops/s':>10s} {'mean µs':>8s} {'p50 µs':>7s} "
        f"{'p90 µs':>7s} {'p99 µs':>7s} {'trades':>8s} {'compiled x':>10s} {'pure x':>7s} "
        f"{'throughput':>10s} {'compiled x':>10s} {'pure x':>7s}"
    )
    print()
    print(header)
    print("-" * len(header))
    for result in sorted(best.values(), key=lambda r: -r["ops_per_s"]):
        commands = f"{result['commands']}" + ("" if result["complete"] else "*")
        print(
            f"{result['engine']:24s} {result['kind']:13s} {commands:>9s} {result['ops_per_s']:>10,d} "
            f"{result['mean_us']:>8.2f} {result['p50_us']:>7.2f} {result['p90_us']:>7.2f} {result['p99_us']:>7.2f} "
            f"{result.get('trades', '-')!s:>8s} {result.get('compiled_speedup', '-')!s:>10s} "
            f"{result.get('pure_speedup', '-')!s:>7s} {result[THROUGHPUT]:>10,d} "
            f"{result.get('compiled_throughput_speedup', '-')!s:>10s} "
            f"{result.get('pure_throughput_speedup', '-')!s:>7s}"
        )
    print("* stopped at the time budget: figures for that prefix of the stream")
    print("ops/s: commands / summed per-command time (each command timed alone, clock reads included);")
    print("throughput: commands / wall time of the same work in a plain loop, no per-command clock")
    for name, error in failures.items():
        print(f"{name}: NOT INSTALLED ({error})")
    for name, reason in NOT_TRIED.items():
        print(f"{name}: not run: {reason}")
    for name, result in best.items():
        if result.get("same_trades_as_satchel") is False:
            print(f"{name}: WARNING: trades differ from Satchel's on the same commands")
    for result in rounds:  # every round's two passes, not only the rows shown
        if result.get("throughput_same_trades") is False:
            print(f"{result['engine']} round {result['round']}: WARNING: the untimed pass traded differently")
        if "error" not in result and result["throughput_commands"] != result["commands"]:
            print(
                f"{result['engine']} round {result['round']}: WARNING: the untimed pass reached its time "
                "limit before the timed pass's prefix (trades not compared)"
            )
    print(f"targets: {json.dumps(targets)}")
    summary = {
        "command": " ".join([_shown(Path(sys.executable)), *sys.argv]),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "stream": {"path": str(stream_path), "commands": args.commands, "seed": args.seed, **facts},
        "method": "input objects built untimed, fresh for each of two passes on a fresh engine; "
        "ops_per_s = commands / summed command time, each command timed alone with perf_counter_ns; "
        "throughput_ops_per_s = commands / wall time of the same work in a plain loop (one clock read "
        "before, one after) on the timed pass's prefix; best of rounds for each measure",
        "results": sorted(best.values(), key=lambda r: -r["ops_per_s"]),
        "rounds": rounds,
        "not_installed": failures,
        "not_tried": NOT_TRIED,
        "targets": targets,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
