"""Sequencer benchmark: accepted orders drained by one market worker, durable commits (fsync on).

    .venv/bin/python bench/sequencer/run.py [--orders 20000] [--users 50] [--batch 2000]

Uses the embedded PostgreSQL under var/bench (fsync on, as in production) unless DATABASE_URL is
set, a fresh database each run. Orders are inserted already accepted (funds held, command
numbered), exactly as the API leaves them; then the worker's drain is timed. Prints a table and a
final JSON line. Afterwards check_ledger and verify_market must pass. BENCH_PROFILE=1 prints two
cProfiles to stderr, matching (prepare) and writing (commit, which runs on the writer thread)
batches; BENCH_PROFILE_SORT=tottime sorts them by own time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def server_cpu_seconds(pgdata: Path | None) -> float:
    """User and system CPU of the embedded PostgreSQL's processes so far (-1 if not measurable:
    another server, or no /proc)."""
    if pgdata is None:
        return -1.0
    try:
        postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended meanwhile
            if int(entry.name) == postmaster or int(fields[1]) == postmaster:
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks
    except (OSError, ValueError):
        return -1.0


def matching_writers() -> int:
    from django.conf import settings

    from exchange.services.matching import WRITERS

    return int(getattr(settings, "MATCHING_WRITERS", WRITERS))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--writers", type=int, default=None, help="batches in flight (MATCHING_WRITERS)")
    args = parser.parse_args()
    os.environ.setdefault("SATCHEL_DATA_DIR", str(ROOT / "var" / "bench"))
    os.environ.pop("SATCHEL_PG_FAST", None)  # durable commits: fsync stays on
    embedded = None if os.environ.get("DATABASE_URL") else Path(os.environ["SATCHEL_DATA_DIR"]) / "postgres"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ["MATCHING_BATCH_SIZE"] = str(args.batch)

    from config.services import resolve_urls

    urls = resolve_urls()
    import psycopg

    admin = urls.database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS satchel_bench WITH (FORCE)")
        conn.execute("CREATE DATABASE satchel_bench")
        fsync = conn.execute("SHOW fsync").fetchone()[0]
        synchronous_commit = conn.execute("SHOW synchronous_commit").fetchone()[0]
    os.environ["DATABASE_URL"] = urls.database_url.rsplit("/", 1)[0] + "/satchel_bench"
    os.environ["REDIS_URL"] = urls.redis_url

    import django

    django.setup()
    from django.conf import settings

    if args.writers is not None:
        settings.MATCHING_WRITERS = args.writers
    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115

    from accounts.models import User
    from exchange.models import (
        AccountKind,
        CommandKind,
        EntryKind,
        Market,
        MarketCommand,
        MarketState,
        Order,
        OrderStatus,
    )
    from exchange.services.deposits import deposit_credit
    from exchange.services.ledger import Line, ledger_account_get, ledger_post
    from exchange.services.matching import market_drain

    market = Market.objects.select_related("base", "quote").get(symbol="ETH_USDC")
    rng = random.Random(args.seed)
    users = User.objects.bulk_create(User(email=f"bench{i}@example.com") for i in range(args.users))
    for user in users:
        deposit_credit(
            user_id=user.pk, asset=market.quote, quantity=Decimal("100000000"), source="administrator"
        )
        deposit_credit(user_id=user.pk, asset=market.base, quantity=Decimal("100000"), source="administrator")
    # A stream like bench/engine's: limits around a drifting mid, a few market orders, cancels.
    MarketState.objects.get_or_create(market=market)
    orders, commands = [], []
    holds: dict[tuple[int, int], Decimal] = {}
    mid = 2000
    live: list[tuple[int, int]] = []
    order_id = 10_000_000
    for sequence in range(1, args.orders + 1):
        user = rng.choice(users)
        mid += rng.choice((-1, 0, 1))
        roll = rng.random()
        if roll < 0.25 and live:
            victim_id, victim_user = live.pop(rng.randrange(len(live)))
            commands.append(
                MarketCommand(
                    market=market,
                    sequence=sequence,
                    kind=CommandKind.CANCEL,
                    user_id=victim_user,
                    order_id=victim_id,
                )
            )
            continue
        order_id += 1
        side = rng.choice(("Bid", "Ask"))
        quantity = Decimal(rng.randint(1, 50)) / 10
        price = Decimal(mid + rng.randint(-10, 10)) if roll > 0.05 else None
        if side == "Bid":
            asset, amount = market.quote, (price or Decimal(mid + 50)) * quantity
        else:
            asset, amount = market.base, quantity
        holds[(user.pk, asset.pk)] = holds.get((user.pk, asset.pk), Decimal(0)) + amount
        orders.append(
            Order(
                id=order_id,
                market=market,
                user=user,
                side=side,
                order_type="Limit" if price else "Market",
                time_in_force="GTC" if price else "IOC",
                price=price,
                quantity=quantity if price or side == "Ask" else None,
                quote_quantity=None if price or side == "Ask" else amount,
                status=OrderStatus.NEW,
                locked_asset=asset,
                locked_amount=amount,
                sequence=sequence,
            )
        )
        commands.append(
            MarketCommand(
                market=market,
                sequence=sequence,
                kind=CommandKind.PLACE,
                user=user,
                order_id=order_id,
                payload={"reserved": str(amount)},
            )
        )
        if price:
            live.append((order_id, user.pk))
    with transaction.atomic():
        for (user_id, asset_id), amount in holds.items():
            asset = market.quote if asset_id == market.quote_id else market.base
            ledger_post(
                kind=EntryKind.HOLD,
                lines=[
                    Line(
                        ledger_account_get(owner_id=user_id, kind=AccountKind.AVAILABLE, asset=asset), -amount
                    ),
                    Line(ledger_account_get(owner_id=user_id, kind=AccountKind.LOCKED, asset=asset), amount),
                ],
                reference="bench-holds",
            )
        Order.objects.bulk_create(orders, batch_size=5000)
        MarketCommand.objects.bulk_create(commands, batch_size=5000)
        MarketState.objects.filter(pk=market.pk).update(next_sequence=args.orders + 1)

    # Per batch: the time to match it in memory and build its rows, and the time to write and
    # commit it. Under a backlog the two overlap (a writer thread commits batch N while batch N+1
    # is matched), so the drain takes about the larger of the two sums, not their total.
    prepare_ms: list[float] = []
    commit_ms: list[float] = []
    from exchange.services import matching

    original_prepare, original_commit = matching._batch_prepare, matching._batch_commit

    import cProfile

    profiling = bool(os.environ.get("BENCH_PROFILE"))
    profilers = {"prepare": cProfile.Profile(), "commit": cProfile.Profile()}

    def timed_prepare(*args: object) -> object:
        started = time.perf_counter()
        result = (
            profilers["prepare"].runcall(original_prepare, *args) if profiling else original_prepare(*args)
        )
        prepare_ms.append((time.perf_counter() - started) * 1000)
        return result

    def timed_commit(*args: object) -> object:
        started = time.perf_counter()
        result = profilers["commit"].runcall(original_commit, *args) if profiling else original_commit(*args)
        commit_ms.append((time.perf_counter() - started) * 1000)
        return result

    matching._batch_prepare, matching._batch_commit = timed_prepare, timed_commit

    def wal_lsn() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn()")
            return cursor.fetchone()[0]

    wal_before = wal_lsn()
    server_cpu_before = server_cpu_seconds(embedded)
    cpu_before = time.process_time()
    started = time.perf_counter()
    report = market_drain(market.pk, max_seconds=3600)
    elapsed = time.perf_counter() - started
    worker_cpu = time.process_time() - cpu_before
    server_cpu = server_cpu_seconds(embedded) - server_cpu_before
    with connection.cursor() as cursor:  # the drain's WAL (nothing else writes this cluster meanwhile)
        cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", [wal_before])
        wal_bytes = int(cursor.fetchone()[0])
    if profiling:
        import pstats

        for name, profiler in profilers.items():
            print(f"--- {name}", file=sys.stderr)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats(
                os.environ.get("BENCH_PROFILE_SORT", "cumulative")
            ).print_stats(30)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM exchange_fill")
        fills = cursor.fetchone()[0]
    call_command("check_ledger", verbosity=0)
    call_command("verify_market", "ETH_USDC", stdout=open(os.devnull, "w"))  # noqa: SIM115

    def percentiles(values: list[float]) -> tuple[float, float]:
        quantiles = statistics.quantiles(values, n=100) if len(values) > 1 else values * 99
        return round(quantiles[49], 1), round(quantiles[98], 1)

    prepare_p50, prepare_p99 = percentiles(prepare_ms)
    commit_p50, commit_p99 = percentiles(commit_ms)
    result = {
        "benchmark": "sequencer",
        "commands": report.applied,
        "fills": fills,
        "batch_size": args.batch,
        "writers": matching_writers(),
        "seconds": round(elapsed, 3),
        "commands_per_second": round(report.applied / elapsed),
        "prepare_ms_p50": prepare_p50,
        "prepare_ms_p99": prepare_p99,
        "commit_ms_p50": commit_p50,
        "commit_ms_p99": commit_p99,
        "prepare_seconds": round(sum(prepare_ms) / 1000, 3),
        "commit_seconds": round(sum(commit_ms) / 1000, 3),
        "wal_bytes_per_command": round(wal_bytes / max(report.applied, 1)),
        # CPU per command, both threads of the worker / every process of the database cluster:
        # steadier than the rate on a shared machine, and what bounds it (one GIL, one server core).
        "worker_cpu_us_per_command": round(worker_cpu * 1e6 / max(report.applied, 1)),
        "server_cpu_us_per_command": round(server_cpu * 1e6 / max(report.applied, 1))
        if server_cpu >= 0
        else None,
        "fsync": fsync,
        "synchronous_commit": synchronous_commit,
        "ledger_check": "ok",
        "verify_market": "ok",
    }
    print(
        f"{'commands':>10} {'fills':>8} {'seconds':>8} {'cmd/s':>8} {'prepare p50/p99 ms':>19}"
        f" {'commit p50/p99 ms':>18}"
    )
    print(
        f"{result['commands']:>10} {fills:>8} {result['seconds']:>8} {result['commands_per_second']:>8} "
        f"{f'{prepare_p50}/{prepare_p99}':>19} {f'{commit_p50}/{commit_p99}':>18}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
