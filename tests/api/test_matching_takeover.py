"""Two matching workers on the same markets: one writer at a time, and takeover when one dies."""

from __future__ import annotations

import os
import random
import signal
import threading
import time

import psycopg
import pytest

from tests.api.test_crash_recovery import _signed_post

pytestmark = pytest.mark.live


def _pending(server, symbol: str) -> int:
    with psycopg.connect(server.env["DATABASE_URL"]) as conn:
        row = conn.execute(
            "SELECT s.next_sequence - 1 - s.last_applied_sequence FROM exchange_marketstate s "
            "JOIN exchange_market m ON m.id = s.market_id WHERE m.symbol = %s",
            [symbol],
        ).fetchone()
    return int(row[0]) if row else 0


def test_second_worker_takes_over_when_the_first_is_killed(satchel_server):
    second = [part.replace("matching@", "matching-standby@") for part in satchel_server.commands["matching"]]
    satchel_server.start("matching-standby", second)
    time.sleep(4)  # the standby is up and consuming the same queues
    accounts = [
        satchel_server.create_account(f"takeover{i}@example.com", "USDC=1000000", "SOL=100000")
        for i in range(3)
    ]
    rng = random.Random(11)

    def burst(count: int) -> list[int]:
        statuses = []
        for _ in range(count):
            body = {
                "orderType": "Limit",
                "price": str(100 + rng.randint(-3, 3)),
                "quantity": str(rng.randint(1, 9)),
                "side": rng.choice(["Bid", "Ask"]),
                "symbol": "SOL_USDC",
            }
            statuses.append(_signed_post(satchel_server, rng.choice(accounts), body).status_code)
        return statuses

    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.extend(burst(30))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert results == [200] * 90

    first = satchel_server.processes["matching"]
    os.killpg(first.pid, signal.SIGKILL)  # not restarted: the standby must carry the markets alone
    first.wait()
    killed_at = time.monotonic()
    assert burst(10) == [200] * 10
    while _pending(satchel_server, "SOL_USDC"):
        assert time.monotonic() - killed_at < 15, "the standby did not take over"
        time.sleep(0.1)
    assert "ok" in satchel_server.manage("verify_market", "SOL_USDC")
    satchel_server.manage("check_ledger")
    satchel_server.restart("matching")  # leave the node as other tests expect it
