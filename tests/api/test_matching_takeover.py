"""Two matching workers on the same markets: one writer at a time, and takeover when one dies."""

from __future__ import annotations

import os
import random
import signal
import threading
import time

import pytest

from tests.api.test_crash_recovery import _signed_post

pytestmark = pytest.mark.live


@pytest.fixture
def standby(satchel_server):
    """A second matching worker on the same queues. Afterwards the node is as other tests expect
    it: the standby stopped (left running, it would carry the markets whenever a later test kills
    `matching`), `matching` running, and SOL_USDC's book empty (the burst leaves orders resting)."""
    satchel_server.clear_books("SOL_USDC")
    command = [part.replace("matching@", "matching-standby@") for part in satchel_server.commands["matching"]]
    satchel_server.start("matching-standby", command)
    satchel_server.wait_ready("matching-standby")
    yield
    satchel_server.stop("matching-standby")
    if satchel_server.processes["matching"].poll() is not None:
        satchel_server.restart("matching")
    satchel_server.clear_books("SOL_USDC")


def test_second_worker_takes_over_when_the_first_is_killed(satchel_server, standby):
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
    while satchel_server.pending("SOL_USDC"):
        assert time.monotonic() - killed_at < 15, "the standby did not take over"
        time.sleep(0.1)
    assert "ok" in satchel_server.manage("verify_market", "SOL_USDC")
    satchel_server.manage("check_ledger")
